import { beforeAll, describe, expect, test } from "bun:test";
import { deleteNamespace } from "../../src/clients/redis";
import { cacheKeys } from "../../src/feeds/cache-keys";
import { createCachePages } from "../../src/feeds/cache-pages";
import { createFeedReader } from "../../src/read/reader";
import { createLookUp } from "../../src/read/enrich";
import { objectKey } from "../../src/feeds/objects";
import { callerFor, expectAppError, signUp } from "../support/api";
import { expectConverged, oracle, sharedWorker } from "../support/pipeline";
import { eventually, useServices } from "../support/stack";

// feed.home and feed.user through tRPC callers, against feeds the real pipeline built.

const services = useServices();
let author: Awaited<ReturnType<typeof signUp>>;
let other: Awaited<ReturnType<typeof signUp>>;
let reader: Awaited<ReturnType<typeof signUp>>;

beforeAll(async () => {
  await sharedWorker();
  [author, other, reader] = [await signUp(services(), "rd"), await signUp(services(), "rd"), await signUp(services(), "rd")];
  await reader.as.follows.follow({ userId: author.user.id });
  await reader.as.follows.follow({ userId: other.user.id });
  for (let i = 0; i < 12; i++) {
    const post = await author.as.posts.create({ body: `post ${i}` });
    if (i % 3 === 0) await other.as.likes.like({ postId: post.id });
    if (i % 4 === 0) await other.as.comments.create({ postId: post.id, body: `comment on ${i}` });
  }
  await expectConverged(services(), [reader.user.id, author.user.id]);
});

type Caller = ReturnType<typeof callerFor>;
/** Every page of a feed, following nextCursor to the end. */
async function allPages(fetchPage: (cursor: string | null) => ReturnType<Caller["feed"]["home"]>) {
  const pages = [];
  let cursor: string | null = null;
  do {
    const page = await fetchPage(cursor);
    pages.push(page.items);
    cursor = page.nextCursor;
  } while (cursor && pages.length < 100);
  return pages;
}

describe("feed.home", () => {
  test("paging through the whole feed gives exactly the oracle, page boundaries included, cache cold and then warm", async () => {
    const want = await oracle(services(), reader.user.id);
    await services().redis.del(...services().feedCache.keys(reader.user.id));
    for (const round of ["cold", "warm"]) {
      const pages = await allPages((cursor) => reader.as.feed.home({ limit: 7, cursor }));
      expect({ round, ids: pages.flat().map((i) => i.id) }).toEqual({ round, ids: want });
      expect(pages.slice(0, -1).every((p) => p.length === 7)).toBe(true);
      expect(pages.at(-1)!.length).toBe(want.length % 7 || 7);
      if (round === "cold") await eventually("the cache to be rebuilt", async () => ((await services().redis.hget(services().feedCache.keys(reader.user.id)[1], "__state")) === "ready" ? true : undefined));
    }
  });

  test("items carry what a client renders", async () => {
    const { items } = await reader.as.feed.home({ limit: 50 });
    const like = items.find((i) => i.verb === "LIKE")!;
    expect(like).toMatchObject({ actor: { id: other.user.id, handle: other.user.handle }, object: { type: "post" } });
    expect(Date.parse(like.createdAt)).not.toBeNaN();
  });

  test("paging while new activities arrive gives no duplicates and skips nothing older than the cursor", async () => {
    const want = await oracle(services(), reader.user.id);
    const first = await reader.as.feed.home({ limit: 5 });
    for (let i = 0; i < 3; i++) await author.as.posts.create({ body: `late ${i}` });
    await expectConverged(services(), [reader.user.id]);
    const rest = await allPages((cursor) => reader.as.feed.home({ limit: 5, cursor: cursor ?? first.nextCursor }));
    const seen = [...first.items, ...rest.flat()].map((i) => i.id);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(want);
  });

  test("after Redis loses every key the same pages come back from Cassandra and the cache is warm again", async () => {
    const before = await allPages((cursor) => reader.as.feed.home({ limit: 6, cursor }));
    await deleteNamespace(services().redis);
    const after = await allPages((cursor) => reader.as.feed.home({ limit: 6, cursor }));
    expect(after.map((p) => p.map((i) => i.id))).toEqual(before.map((p) => p.map((i) => i.id)));
    // The miss was served from Cassandra; the cache is rebuilt in the background.
    await eventually("the cache to be rebuilt", async () => ((await services().redis.hget(services().feedCache.keys(reader.user.id)[1], "__state")) === "ready" ? true : undefined));
    expect(await services().redis.ttl(services().feedCache.keys(reader.user.id)[0])).toBeGreaterThan(0);
  });

  test("pages past the cached length come from Cassandra, in order, without duplicates", async () => {
    const want = await oracle(services(), reader.user.id);
    const cache = createCachePages({ redis: services().redis, length: 4, ttlSeconds: 60 });
    const accounts = createCachePages({ redis: services().redis, length: 4, ttlSeconds: 60, kind: "account" });
    const short = createFeedReader({ feeds: services().feeds, cache, accounts, length: 4, metrics: services().metrics, lookUp: createLookUp(services().objects), enrich: services().reader.enrich });
    await services().redis.del(...cacheKeys(reader.user.id));
    const ids: string[] = [];
    let after: { createdAt: Date; id: string } | undefined;
    for (;;) {
      const items = await short.home(reader.user.id, 3, after);
      ids.push(...items.map((i) => i.id));
      if (items.length < 3) break;
      after = { createdAt: new Date(items.at(-1)!.createdAt), id: items.at(-1)!.id };
    }
    expect(ids).toEqual(want);
    await eventually("the short cache to be rebuilt", async () => ((await services().redis.zcard(cacheKeys(reader.user.id)[0])) === 4 ? true : undefined));
  });

  test("many requests arriving together on a cold cache cause one rebuild", async () => {
    await services().redis.del(...services().feedCache.keys(reader.user.id));
    const metrics = () => services().metrics.render();
    const rebuilds = async () => Number(/^feedline_cache_rebuilds_total (\d+)$/m.exec(await metrics())?.[1] ?? 0);
    const before = await rebuilds();
    const pages = await Promise.all(Array.from({ length: 20 }, () => reader.as.feed.home({ limit: 10 })));
    expect(new Set(pages.map((p) => JSON.stringify(p.items))).size).toBe(1);
    await eventually("the cache to be rebuilt", async () => ((await rebuilds()) > before ? true : undefined));
    const warm = await reader.as.feed.home({ limit: 10 });
    expect(JSON.stringify(warm.items)).toBe(JSON.stringify(pages[0]!.items));
    expect(await rebuilds()).toBe(before + 1);
  });

  test("a malformed, tampered or foreign cursor is a clear BAD_REQUEST", async () => {
    const { nextCursor } = await reader.as.feed.home({ limit: 2 });
    const [payload, signature] = nextCursor!.split(".");
    const tampered = `${payload!.slice(0, -2)}${payload!.slice(-2) === "AA" ? "AB" : "AA"}.${signature}`;
    const foreign = (await author.as.feed.home({ limit: 1 })).nextCursor!;
    const profile = (await reader.as.feed.user({ userId: author.user.id, limit: 1 })).nextCursor!;
    for (const cursor of ["abc", "a.b.c", tampered, `${payload}.${"x".repeat(22)}`, foreign, profile]) {
      const err = await expectAppError(reader.as.feed.home({ limit: 2, cursor }), "INVALID_CURSOR", "BAD_REQUEST");
      expect(err.message).toContain("start again without a cursor");
    }
  });

  test("feed.home needs a token; bad limits are INVALID_INPUT", async () => {
    await expectAppError(callerFor(services()).feed.home({}), "UNAUTHENTICATED", "UNAUTHORIZED");
    await expectAppError(reader.as.feed.home({ limit: 0 }), "INVALID_INPUT", "BAD_REQUEST");
    await expectAppError(reader.as.feed.home({ limit: 101 }), "INVALID_INPUT", "BAD_REQUEST");
  });
});

describe("feed.user", () => {
  test("anyone pages through a user's own activities, newest first", async () => {
    const want = (await services().sql`
      select id from (
        select 'shard:' || id as id, created_at from posts where author_id = ${author.user.id}
        union all select 'comment:' || id, created_at from comments where author_id = ${author.user.id}
        union all select 'like:' || user_id || ':' || post_id, created_at from likes where user_id = ${author.user.id}
        union all select 'follow:' || follower_id || ':' || followee_id, created_at from follows where follower_id = ${author.user.id}
      ) a order by date_trunc('milliseconds', created_at) desc, id collate "C" desc`).map((r) => r.id);
    const anonymous = callerFor(services());
    const pages = await allPages((cursor) => anonymous.feed.user({ userId: author.user.id, limit: 5, cursor }));
    expect(pages.flat().map((i) => i.id)).toEqual(want);
    expect(pages.flat().every((i) => i.actor.handle === author.user.handle)).toBe(true);
  });

  test("the user's handle comes from the object cache, and from Cassandra when Redis lacks it", async () => {
    const ref = { type: "user" as const, id: author.user.id };
    await services().redis.del(objectKey(ref));
    const { items } = await callerFor(services()).feed.user({ userId: author.user.id, limit: 3 });
    expect(items.length).toBe(3);
    expect(items.every((i) => i.actor.handle === author.user.handle)).toBe(true);
    expect(await services().redis.get(objectKey(ref))).toContain(author.user.handle); // filled again
  });

  test("a renamed user's profile shows the new handle once the stream has applied the rename, as home pages do", async () => {
    const renamed = await signUp(services(), "renamed");
    await renamed.as.posts.create({ body: "before the rename" });
    const handle = `${renamed.user.handle}_2`;
    await services().sql`update users set handle = ${handle} where id = ${renamed.user.id}`;
    const items = await eventually("the new handle on the profile", async () => {
      const page = (await callerFor(services()).feed.user({ userId: renamed.user.id, limit: 5 })).items;
      return page.length > 0 && page.every((i) => i.actor.handle === handle) ? page : undefined;
    });
    expect(items.map((i) => i.verb)).toContain("SHARD");
  });

  test("a user who does not exist has an empty profile", async () => {
    expect((await callerFor(services()).feed.user({ userId: "999999999999", limit: 5 })).items).toEqual([]);
  });
});
