import { describe, expect, test } from "bun:test";
import { expectAppError, rowCounts, signUp } from "../support/api";
import { useServices } from "../support/stack";

const services = useServices();

describe("likes", () => {
  test("like returns the like made as the token's user; unlike removes it", async () => {
    const [alice, bob] = [await signUp(services()), await signUp(services())];
    const post = await alice.as.posts.create({ body: "likeable" });
    expect(await bob.as.likes.like({ postId: post.id })).toMatchObject({ userId: bob.user.id, postId: post.id });
    expect(await bob.as.likes.unlike({ postId: post.id })).toEqual({ ok: true });
    await expectAppError(bob.as.likes.unlike({ postId: post.id }), "NOT_LIKED", "NOT_FOUND");
  });

  test("a double like and liking a missing post are typed errors that write nothing", async () => {
    const [alice, bob] = [await signUp(services()), await signUp(services())];
    const post = await alice.as.posts.create({ body: "once only" });
    await bob.as.likes.like({ postId: post.id });
    const before = await rowCounts(services());
    await expectAppError(bob.as.likes.like({ postId: post.id }), "ALREADY_LIKED", "CONFLICT");
    await expectAppError(bob.as.likes.like({ postId: "9223372036854775807" }), "POST_NOT_FOUND", "NOT_FOUND");
    expect(await rowCounts(services())).toEqual(before);
  });
});
