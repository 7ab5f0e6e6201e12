import { describe, expect, test } from "bun:test";
import { expectAppError, rowCounts, signUp } from "../support/api";
import { useServices } from "../support/stack";

const services = useServices();

describe("posts", () => {
  test("create stores the body as the token's user", async () => {
    const alice = await signUp(services());
    const post = await alice.as.posts.create({ body: "  hello, world  " });
    expect(post).toMatchObject({ authorId: alice.user.id, body: "hello, world" });
    const [row] = await services().sql`select author_id, body from posts where id = ${post.id}`;
    expect(row).toEqual({ author_id: alice.user.id, body: "hello, world" });
  });

  test("deleting a post deletes its comments and likes in the same transaction", async () => {
    const [alice, bob] = [await signUp(services()), await signUp(services())];
    const post = await alice.as.posts.create({ body: "short-lived" });
    await bob.as.comments.create({ postId: post.id, body: "nice" });
    await bob.as.likes.like({ postId: post.id });
    await alice.as.likes.like({ postId: post.id });
    expect(await alice.as.posts.delete({ postId: post.id })).toEqual({ ok: true });
    const [left] = await services().sql`
      select (select count(*) from comments where post_id = ${post.id})::int as comments,
             (select count(*) from likes where post_id = ${post.id})::int as likes,
             (select count(*) from posts where id = ${post.id})::int as posts`;
    expect(left).toEqual({ comments: 0, likes: 0, posts: 0 });
  });

  test("deleting another user's post is FORBIDDEN and deletes nothing", async () => {
    const [alice, mallory] = [await signUp(services()), await signUp(services())];
    const post = await alice.as.posts.create({ body: "mine" });
    await alice.as.likes.like({ postId: post.id });
    const before = await rowCounts(services());
    await expectAppError(mallory.as.posts.delete({ postId: post.id }), "FORBIDDEN", "FORBIDDEN");
    expect(await rowCounts(services())).toEqual(before);
  });

  test("deleting a post twice is POST_NOT_FOUND the second time", async () => {
    const alice = await signUp(services());
    const post = await alice.as.posts.create({ body: "once" });
    await alice.as.posts.delete({ postId: post.id });
    await expectAppError(alice.as.posts.delete({ postId: post.id }), "POST_NOT_FOUND", "NOT_FOUND");
  });

  test("concurrent retries with one idempotency key create one post", async () => {
    const alice = await signUp(services());
    const key = `post-${crypto.randomUUID()}`;
    const results = await Promise.all(Array.from({ length: 5 }, () => alice.as.posts.create({ body: "exactly once", idempotencyKey: key })));
    expect(new Set(results.map((p) => p.id)).size).toBe(1);
    expect(await services().sql`select 1 from posts where author_id = ${alice.user.id}`).toHaveLength(1);
  });

  test("a token whose user was deleted writes nothing", async () => {
    const ghost = await signUp(services());
    await services().sql`delete from users where id = ${ghost.user.id}`;
    await expectAppError(ghost.as.posts.create({ body: "boo" }), "UNAUTHENTICATED", "UNAUTHORIZED");
  });
});
