import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Services } from "../../src/services";
import { registryName } from "../../src/feeds/cache-keys";
import { createRegistry } from "../../src/clients/redis";
import { unitOfWork } from "../../src/stream/unit-of-work";
import { writeTimeOf } from "../../src/model/write-time";
import { eventually, openServices } from "../support/stack";
import { type FeedItem } from "../../src/model/feed";
import { createFanout } from "../../src/fanout/fanout";
import type { LiveEvent } from "../../src/feeds/live";

let services: Services;
const run = crypto.randomUUID().slice(0, 8);
// More targets than one batch holds and than a fan-out keeps in flight, plus a remainder.
const targets = Array.from({ length: 32 * 4 * 2 + 7 }, (_, i) => `fanout-${run}-${i}`);

beforeAll(async () => {
  services = await openServices();
});

/** Write times as the events at these offsets would have them. */
const at = (offset: number) => writeTimeOf(offset);

afterAll(async () => {
  for (const u of targets) await services.cassandra.execute("DELETE FROM home_feed USING TIMESTAMP 9007199254740991 WHERE user_id = ?", [u]);
  await services.cassandra.execute("DELETE FROM followers USING TIMESTAMP 9007199254740991 WHERE user_id = ?", [`actor-${run}`]);
  await services.cassandra.execute("DELETE FROM users USING TIMESTAMP 9007199254740991 WHERE user_id = ?", [`actor-${run}`]);
  await services.close();
});

const item: FeedItem = {
  id: `shard:${run}`,
  verb: "SHARD",
  actorId: `actor-${run}`,
  actorHandle: "fanner",
  createdAt: new Date(Date.UTC(2026, 10, 1)),
  object: { type: "post", id: run, authorId: `actor-${run}` },
  postId: run,
  excerpt: "to everyone",
};

async function holders(id: string) {
  const held = await Promise.all(
    targets.map(async (u) => (await services.cassandra.execute("SELECT activity_id FROM home_feed WHERE user_id = ?", [u])).rows.some((r) => r.activity_id === id)),
  );
  return held.filter(Boolean).length;
}

describe("fan-out in token-aware batches", () => {
  test("an item reaches every target feed exactly once, and a replay changes nothing", async () => {
    expect(await services.fanout.add(targets, item, at(1))).toBe(targets.length);
    await services.fanout.add(targets, item, at(1)); // replay
    expect(await holders(item.id)).toBe(targets.length);
    const rows = (await services.cassandra.execute("SELECT activity_id FROM home_feed WHERE user_id = ?", [targets.at(-1)!])).rows;
    expect(rows.map((r) => r.activity_id)).toEqual([item.id]);
  });

  test("a removal reaches every target feed", async () => {
    await services.fanout.add(targets, item, at(2));
    expect(await services.fanout.remove(targets, item, at(3))).toBe(targets.length);
    expect(await holders(item.id)).toBe(0);
  });

  test("past one chunk, the feeds of users listening live are written and told first, then the rest; a removal likewise", async () => {
    const { feeds, feedCache: cache, live, redis } = services;
    const told: { users: string[]; type: string }[] = [];
    const spy = { ...live, publishTo: async (users: string[], events: LiveEvent[]) => void told.push({ users, type: events[0]!.type }) };
    const fanout = createFanout({ feeds, cache, live: spy, chunk: 50 });
    // Listeners at the end of the list: they go first all the same.
    const listeners = targets.slice(-3);
    await Promise.all(listeners.map((u) => redis.zadd(services.live.registry.keyOf(u), Date.now() + 60_000, u)));
    try {
      const chunked = { ...item, id: `shard:${run}-chunked` };
      expect(await fanout.add(targets, chunked, at(5))).toBe(targets.length);
      expect(await holders(chunked.id)).toBe(targets.length);
      const chunks = Math.ceil(targets.length / 50);
      // The first chunk's look-up finds the listeners; every later chunk's finds none.
      expect(told.map((t) => t.users)).toEqual([listeners, ...Array(chunks - 1).fill([])]);
      told.length = 0;
      await fanout.remove(targets, chunked, at(6));
      expect(await holders(chunked.id)).toBe(0);
      expect(told.map((t) => [t.type, t.users])).toEqual([["remove", listeners], ...Array(chunks - 1).fill(["remove", []])]);
    } finally {
      await Promise.all(listeners.map((u) => redis.zrem(services.live.registry.keyOf(u), u)));
    }
  });

  test("a single target goes as one statement", async () => {
    await services.fanout.add(targets.slice(0, 1), { ...item, id: `shard:${run}-one` }, at(4));
    expect(await holders(`shard:${run}-one`)).toBe(1);
  });
});

describe("cache updates go only to users with a cache", () => {
  test("building or reading a cache registers the user past its expiry; a fan-out updates registered caches and creates none", async () => {
    const [reading, idle] = [targets[0]!, targets[1]!];
    const { redis, feedCache, cachePages, config } = services;
    await redis.del(...feedCache.keys(reading), ...feedCache.keys(idle));
    const registry = createRegistry(redis, registryName);
    await Promise.all([reading, idle].map((u) => redis.zrem(registry.keyOf(u), u)));

    await services.reader.rebuild(reading);
    const ttlMs = config.feed.cacheTtlSeconds * 1000;
    const registered = Number(await redis.zscore(registry.keyOf(reading), reading));
    expect(registered).toBeGreaterThanOrEqual(Date.now() + ttlMs);
    expect(registered).toBeGreaterThanOrEqual(Date.now() + (await redis.pttl(feedCache.keys(reading)[1])));
    expect(await redis.zscore(registry.keyOf(idle), idle)).toBeNull();

    const fresh = { ...item, id: `shard:${run}-cached` };
    await services.fanout.add([reading, idle], fresh, at(5));
    expect(await redis.hexists(feedCache.keys(reading)[1], fresh.id)).toBe(1);
    expect(await redis.exists(...feedCache.keys(idle))).toBe(0);
    expect((await cachePages.page(reading, 10))!.items.map((i) => i.id)).toContain(fresh.id);
    await services.fanout.remove([reading, idle], fresh, at(6));
    expect((await cachePages.page(reading, 10))!.items.map((i) => i.id)).not.toContain(fresh.id);
    // Pages slide the cache's expiry without raising the entry each time: it stays at or past it.
    const entry = Number(await redis.zscore(registry.keyOf(reading), reading));
    expect(entry).toBeGreaterThanOrEqual(Date.now() + (await redis.pttl(feedCache.keys(reading)[0])));
  });

  test("a cache rebuilt after Redis lost it is registered again, though this process raised the entry moments before", async () => {
    const [reading] = [targets[2]!];
    const { redis, feedCache, reader } = services;
    const registry = createRegistry(redis, registryName);
    await reader.rebuild(reading); // this process raises the entry now
    // Redis loses everything of this user (a restart with nothing on disk), cache and entry alike.
    await redis.del(...feedCache.keys(reading));
    await redis.zrem(registry.keyOf(reading), reading);
    await reader.home(reading, 20); // a miss: rebuilt within the 30 s a page would not raise again
    await eventually("the cache to be rebuilt", async () => ((await redis.hget(feedCache.keys(reading)[1], "__state")) === "ready" ? true : undefined));
    expect(Number(await redis.zscore(registry.keyOf(reading), reading))).toBeGreaterThanOrEqual(Date.now() + (await redis.pttl(feedCache.keys(reading)[1])));
    // So a fan-out reaches it.
    const fresh = { ...item, id: `shard:${run}-after-loss` };
    await services.fanout.add([reading], fresh, at(7));
    expect(await redis.hexists(feedCache.keys(reading)[1], fresh.id)).toBe(1);
  });
});

describe("the stream's unit of work for its own user", () => {
  test("reads the user, followers and reach once, then follows its own writes", async () => {
    const actor = `actor-${run}`;
    await services.feeds.putUser({ id: actor, handle: "before", displayName: null }, at(1));
    await services.feeds.addFollower(actor, "f1", new Date(), at(2), 1);
    const { feeds: view } = unitOfWork(services.feeds, services.fanout, services.objects, services.notifier);
    expect(await view.getUser(actor)).toEqual({ handle: "before", displayName: null });
    expect(await view.followers(actor)).toEqual(["f1"]);

    // Writes through the view are seen by the view and land in Cassandra.
    expect(await view.reach(actor)).toEqual({ followers: 1, pulled: false });
    await view.addFollower(actor, "f2", new Date(), at(3), 2);
    await view.removeFollower(actor, "f1", at(4), 1);
    await view.setPulled(actor, true, at(4));
    await view.putUser({ id: actor, handle: "after", displayName: "A" }, at(5));
    expect((await view.followers(actor)).sort()).toEqual(["f2"]);
    expect(await view.getUser(actor)).toEqual({ handle: "after", displayName: "A" });
    expect(await services.feeds.followers(actor)).toEqual(["f2"]);
    expect(await services.feeds.getUser(actor)).toEqual({ handle: "after", displayName: "A" });
    // The follower count and mode are kept in step too, and agree with Cassandra's.
    expect(await view.reach(actor)).toEqual({ followers: 1, pulled: true });
    expect(await services.feeds.reach(actor)).toEqual({ followers: 1, pulled: true });

    // A user followed before counts existed is counted from its rows, until the count is written.
    const old = `old-${run}`;
    await services.cassandra.execute("INSERT INTO followers (user_id, follower_id, since) VALUES (?, ?, ?) USING TIMESTAMP ?", [old, "f9", new Date(), at(1)]);
    expect(await services.feeds.reach(old)).toEqual({ followers: 1, pulled: false, counted: true });
    await view.setFollowerCount(old, 1, at(2));
    expect(await services.feeds.reach(old)).toEqual({ followers: 1, pulled: false });

    await view.deleteUser(actor, at(6));
    expect(await view.getUser(actor)).toBeNull();
    expect(await services.feeds.getUser(actor)).toBeNull();
  });
});
