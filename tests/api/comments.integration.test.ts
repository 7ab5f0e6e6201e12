import { describe, expect, test } from "bun:test";
import { expectAppError, rowCounts, signUp } from "../support/api";
import { useServices } from "../support/stack";

const services = useServices();

describe("comments", () => {
  test("create comments on a post as the token's user; delete removes it", async () => {
    const [alice, bob] = [await signUp(services()), await signUp(services())];
    const post = await alice.as.posts.create({ body: "discuss" });
    const comment = await bob.as.comments.create({ postId: post.id, body: "agreed" });
    expect(comment).toMatchObject({ postId: post.id, authorId: bob.user.id, body: "agreed" });
    expect(await bob.as.comments.delete({ commentId: comment.id })).toEqual({ ok: true });
    await expectAppError(bob.as.comments.delete({ commentId: comment.id }), "COMMENT_NOT_FOUND", "NOT_FOUND");
  });

  test("commenting on a missing post is POST_NOT_FOUND and writes nothing", async () => {
    const bob = await signUp(services());
    const before = await rowCounts(services());
    await expectAppError(bob.as.comments.create({ postId: "9223372036854775807", body: "hello?" }), "POST_NOT_FOUND", "NOT_FOUND");
    expect(await rowCounts(services())).toEqual(before);
  });

  test("deleting another user's comment is FORBIDDEN, even on your own post", async () => {
    const [alice, bob] = [await signUp(services()), await signUp(services())];
    const post = await alice.as.posts.create({ body: "my post" });
    const comment = await bob.as.comments.create({ postId: post.id, body: "my comment" });
    await expectAppError(alice.as.comments.delete({ commentId: comment.id }), "FORBIDDEN", "FORBIDDEN");
    expect(await services().sql`select 1 from comments where id = ${comment.id}`).toHaveLength(1);
  });
});
