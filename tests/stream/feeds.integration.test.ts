import { beforeAll, describe, expect, test } from "bun:test";
import { signUp } from "../support/api";
import { expectConverged, feedIds, sharedWorker } from "../support/pipeline";
import { eventually, useServices } from "../support/stack";

// One test per rule of the contract (docs/contract.md), through the whole pipeline: tRPC caller → PostgreSQL →
// Debezium → Kafka → router → feed worker → Cassandra (and Redis). Each waits on convergence
// with a deadline, never on a fixed sleep.

const services = useServices();
beforeAll(async () => {
  await sharedWorker();
});

const users = async (n: number) => Promise.all(Array.from({ length: n }, () => signUp(services(), "feed")));

describe("home feeds", () => {
  test("a post appears in its author's feed and in every follower's, and nowhere else", async () => {
    const [author, fan, stranger] = await users(3);
    await fan!.as.follows.follow({ userId: author!.user.id });
    const post = await author!.as.posts.create({ body: "hello followers" });
    await expectConverged(services(), [author!.user.id, fan!.user.id, stranger!.user.id]);
    expect(await feedIds(services(), fan!.user.id)).toContain(`shard:${post.id}`);
    expect(await feedIds(services(), stranger!.user.id)).not.toContain(`shard:${post.id}`);
  });

  test("a follow backfills the followed user's earlier activities; an unfollow removes them all", async () => {
    const [author, reader] = await users(2);
    const posts = [];
    for (const body of ["one", "two", "three"]) posts.push(await author!.as.posts.create({ body }));
    await expectConverged(services(), [author!.user.id]);

    await reader!.as.follows.follow({ userId: author!.user.id });
    await expectConverged(services(), [reader!.user.id]);
    const feed = await feedIds(services(), reader!.user.id);
    for (const p of posts) expect(feed).toContain(`shard:${p.id}`);
    expect(feed).toContain(`follow:${reader!.user.id}:${author!.user.id}`);

    await reader!.as.follows.unfollow({ userId: author!.user.id });
    await expectConverged(services(), [reader!.user.id]);
    expect(await feedIds(services(), reader!.user.id)).toEqual([]);
  });

  test("a like and a comment reach the actor's followers; an unlike and a comment deletion remove them everywhere", async () => {
    const [author, liker, watcher] = await users(3);
    await watcher!.as.follows.follow({ userId: liker!.user.id });
    const post = await author!.as.posts.create({ body: "like me" });
    await liker!.as.likes.like({ postId: post.id });
    const comment = await liker!.as.comments.create({ postId: post.id, body: "nice post" });
    await expectConverged(services(), [liker!.user.id, watcher!.user.id]);
    expect(await feedIds(services(), watcher!.user.id)).toEqual(
      expect.arrayContaining([`like:${liker!.user.id}:${post.id}`, `comment:${comment.id}`]),
    );

    await liker!.as.likes.unlike({ postId: post.id });
    await liker!.as.comments.delete({ commentId: comment.id });
    await expectConverged(services(), [liker!.user.id, watcher!.user.id]);
    const feed = await feedIds(services(), watcher!.user.id);
    expect(feed).not.toContain(`like:${liker!.user.id}:${post.id}`);
    expect(feed).not.toContain(`comment:${comment.id}`);
  });

  test("a deleted post takes its comments and likes out of every feed they reached", async () => {
    const [author, fan, commenter, commenterFan] = await users(4);
    await fan!.as.follows.follow({ userId: author!.user.id });
    await commenterFan!.as.follows.follow({ userId: commenter!.user.id });
    const post = await author!.as.posts.create({ body: "doomed" });
    await commenter!.as.comments.create({ postId: post.id, body: "first!" });
    await commenter!.as.likes.like({ postId: post.id });
    const everyone = [author!, fan!, commenter!, commenterFan!].map((u) => u.user.id);
    await expectConverged(services(), everyone);
    expect((await feedIds(services(), commenterFan!.user.id)).length).toBeGreaterThanOrEqual(2);

    await author!.as.posts.delete({ postId: post.id });
    await expectConverged(services(), everyone);
    for (const u of everyone) {
      expect((await feedIds(services(), u)).filter((id) => id.endsWith(`:${post.id}`) || id === `shard:${post.id}`)).toEqual([]);
    }
  });

  test("items carry what a page renders, newest first with ties broken by id", async () => {
    const [author, fan] = await users(2);
    await fan!.as.follows.follow({ userId: author!.user.id });
    const post = await author!.as.posts.create({ body: "render me" });
    await fan!.as.likes.like({ postId: post.id });
    await expectConverged(services(), [fan!.user.id]);
    const items = await services().feeds.feed(fan!.user.id, 10);
    const shard = items.find((i) => i.id === `shard:${post.id}`)!;
    expect(shard).toMatchObject({ verb: "SHARD", actorId: author!.user.id, actorHandle: author!.user.handle, object: { type: "post", id: post.id }, excerpt: "render me" });
    expect(shard.createdAt.getTime()).toBe(Math.floor(Date.parse(post.createdAt)));
    const times = items.map((i) => i.createdAt.getTime());
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  test("a cached feed receives new items and stays trimmed; an uncached feed gets no cache key", async () => {
    const [author, cached, uncached] = await users(3);
    await cached!.as.follows.follow({ userId: author!.user.id });
    await uncached!.as.follows.follow({ userId: author!.user.id });
    await expectConverged(services(), [cached!.user.id, uncached!.user.id]);
    await services().reader.rebuild(cached!.user.id);

    const post = await author!.as.posts.create({ body: "for the cache" });
    const [zset] = services().feedCache.keys(cached!.user.id);
    await eventually("the post in the cached feed", async () =>
      (await services().redis.zscore(zset, `shard:${post.id}`)) !== null ? true : undefined,
    );
    const [uncachedZset, uncachedHash] = services().feedCache.keys(uncached!.user.id);
    await expectConverged(services(), [uncached!.user.id]);
    expect(await services().redis.exists(uncachedZset, uncachedHash)).toBe(0);
    // The reader's idle expiry stays as the reader set it: writers do not keep idle keys alive.
    const ttl = await services().redis.ttl(zset);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(services().config.feed.cacheTtlSeconds);
    const entry = (await services().redis.hget(services().feedCache.keys(cached!.user.id)[1], `shard:${post.id}`))!;
    const item = JSON.parse(entry.slice(entry.indexOf(" ") + 1)); // "<write time> <json>"
    expect(item).toMatchObject({ id: `shard:${post.id}`, verb: "SHARD", actor: { id: author!.user.id, handle: author!.user.handle } });
  });
});
