import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Cluster } from "ioredis";
import { createStackContext } from "../../deploy/stack/context";
import { redisClusterComponent } from "../../deploy/stack/components/redis-cluster";
import { createRateLimits } from "../../src/api/rate-limits";
import { createRedis, createRegistry, deleteNamespace, type RedisClient } from "../../src/clients/redis";
import { createUpkeep } from "../../src/fanout/upkeep";
import { createFanout } from "../../src/fanout/fanout";
import { createFeedCache } from "../../src/feeds/cache";
import { createCachePages } from "../../src/feeds/cache-pages";
import { cacheScripts } from "../../src/feeds/cache-scripts";
import { cacheKeys } from "../../src/feeds/cache-keys";
import { createLiveFeed, type LiveEvent } from "../../src/feeds/live";
import { createObjectCache, objectScripts } from "../../src/feeds/objects";
import type { FeedItem } from "../../src/model/feed";
import { writeTimeOf } from "../../src/model/write-time";
import { createEnricher, createLookUp } from "../../src/read/enrich";
import { createFeedReader } from "../../src/read/reader";
import type { Services } from "../../src/services";
import { openServices, stackConfig } from "../support/stack";

// The cache, the registries, live pub/sub, the object cache and the rate limiter on a real Redis
// Cluster of three masters, started by the stack tool for this file: the same code as on one
// node, with users whose keys live on every node.

const cluster = redisClusterComponent(createStackContext(await stackConfig()));
let services: Services;
let redis: RedisClient;
const run = crypto.randomUUID().slice(0, 8);

beforeAll(async () => {
  await cluster.start();
  services = await openServices();
  const config = services.config;
  redis = createRedis({ ...config.redis, clusterNodes: cluster.nodes, keyPrefix: `c${run}:` }, { scripts: { ...cacheScripts, ...objectScripts }, autoPipelining: true });
  await redis.ping(); // the client knows the slots' owners from here on
}, 60_000);
afterAll(async () => {
  await redis?.quit().catch(() => {});
  await services?.close();
  await cluster.stop();
});

/** The pieces of the service that use Redis, built on the cluster (Cassandra is the stack's). */
function onCluster() {
  const { config, feeds } = services;
  const cache = createFeedCache({ redis, length: config.feed.length });
  const pages = createCachePages({ redis, length: config.feed.length, ttlSeconds: 600 });
  const live = createLiveFeed({ redis, ...config.live });
  const objects = createObjectCache({ redis, load: feeds.objects, ttlSeconds: 600 });
  const fanout = createFanout({ feeds, cache, live, chunk: config.stream.fanout.chunk });
  const accounts = createCachePages({ redis, length: config.feed.length, ttlSeconds: 600, kind: "account" });
  const lookUp = createLookUp(objects);
  const reader = createFeedReader({ feeds, cache: pages, accounts, length: config.feed.length, metrics: services.metrics, lookUp, enrich: createEnricher(lookUp) });
  return { cache, pages, live, objects, fanout, reader };
}

/** Users whose cache keys fall on each of the cluster's nodes. */
function usersOnEveryNode(perNode: number) {
  const masters = (redis as Cluster).nodes("master").map((n) => `${n.options.host}:${n.options.port}`);
  const byNode = new Map<string, string[]>(masters.map((m) => [m, []]));
  for (let i = 0; [...byNode.values()].some((l) => l.length < perNode); i++) {
    if (i > 10_000) throw new Error(`no users found on some node: ${JSON.stringify([...byNode])}`);
    const u = `cl-${run}-${i}`;
    const slot = clusterKeySlot(`c${run}:${cacheKeys(u)[0]}`);
    const owner = (redis as Cluster).slots[slot]?.[0];
    const list = owner && byNode.get(owner);
    if (list && list.length < perNode) list.push(u);
  }
  return [...byNode.values()].flat();
}

const item = (id: string): FeedItem => ({
  id,
  verb: "SHARD",
  actorId: `author-${run}`,
  actorHandle: "clustered",
  createdAt: new Date(),
  object: { type: "post", id, authorId: `author-${run}` },
  postId: id,
  excerpt: "on every node",
});

describe("on a Redis Cluster", () => {
  test("a fan-out reaches the cached feeds of users on every node, and their pages read it back", async () => {
    const { reader, fanout, pages, cache } = onCluster();
    const users = usersOnEveryNode(2);
    for (const u of users) await reader.rebuild(u);
    expect(await cache.registry.registered(users)).toEqual(users);
    const added = item(`shard:${run}-1`);
    await fanout.add(users, added, writeTimeOf(1));
    for (const u of users) expect((await pages.page(u, 10))!.items.map((i) => i.id)).toEqual([added.id]);
    await fanout.remove(users, added, writeTimeOf(2));
    for (const u of users) expect((await reader.home(u, 10)).map((i) => i.id)).toEqual([]);
    // The registry's shards are spread over the nodes too.
    const shardNodes = new Set(users.map((u) => (redis as Cluster).slots[clusterKeySlot(`c${run}:${cache.registry.keyOf(u)}`)]?.[0]));
    expect(shardNodes.size).toBeGreaterThan(1);
  });

  test("the upkeep's marks are kept on every node, and a feed marked is not kept again", async () => {
    const marks = createRegistry(redis, "feed:upkept");
    const upkeep = createUpkeep({ feeds: services.feeds, length: services.config.feed.length, metrics: services.metrics, marks });
    const users = usersOnEveryNode(2);
    for (const u of users) await upkeep.upkeep(u);
    expect(await marks.registered(users)).toEqual(users);
    const kept = await Promise.all(users.map((u) => services.feeds.upkept(u)));
    await services.cassandra.execute("DELETE FROM feed_upkeep WHERE user_id IN ?", [users]); // were Cassandra asked, it would keep them again
    for (const u of users) await upkeep.upkeep(u);
    expect(await Promise.all(users.map((u) => services.feeds.upkept(u)))).toEqual(users.map(() => null));
    expect(kept.every((k) => k !== null)).toBe(true);
  });

  test("a live subscriber hears of an item whichever node its channel and registration live on, through sharded pub/sub", async () => {
    const { live, fanout } = onCluster();
    const users = usersOnEveryNode(1);
    const abort = new AbortController();
    const received = new Map<string, LiveEvent[]>(users.map((u) => [u, []]));
    const streams = await Promise.all(users.map((u) => live.subscribe(u, abort.signal)));
    const consuming = streams.map(async (events, i) => {
      for await (const e of events) received.get(users[i]!)!.push(e);
    });
    expect(await live.listening(users)).toEqual(users);
    // Sharded pub/sub: each user's channel is subscribed on the node that owns its slot, none classically.
    const masters = (redis as Cluster).nodes("master");
    const counts = async (kind: "SHARDNUMSUB" | "NUMSUB", ch: string) =>
      (await Promise.all(masters.map(async (m) => Number(((await m.call("PUBSUB", kind, ch)) as [string, number])[1])))).reduce((a, b) => a + b, 0);
    for (const u of users) {
      expect(await counts("SHARDNUMSUB", `c${run}:feed:live:{${u}}`)).toBe(1);
      expect(await counts("NUMSUB", `c${run}:feed:live:{${u}}`)).toBe(0);
    }
    await fanout.add(users, item(`shard:${run}-live`), writeTimeOf(3));
    for (let waited = 0; [...received.values()].some((l) => l.length === 0) && waited < 10_000; waited += 50) await Bun.sleep(50);
    for (const u of users) expect(received.get(u)!.map((e) => (e.type === "add" ? e.item.id : e.type))).toEqual([`shard:${run}-live`]);
    abort.abort();
    await Promise.all(consuming);
  });

  test("objects are put and read back across nodes, the later write time winning", async () => {
    const { objects } = onCluster();
    const refs = Array.from({ length: 12 }, (_, i) => ({ type: "user" as const, id: `obj-${run}-${i}` }));
    await Promise.all(refs.map((r, i) => objects.put(r, { handle: `h${i}`, displayName: null }, writeTimeOf(10))));
    expect(await objects.put(refs[0]!, { handle: "older", displayName: null }, writeTimeOf(9))).toBe(0);
    const got = await objects.get(refs);
    expect(refs.map((r) => (got.get(`user:${r.id}`) as { handle: string }).handle)).toEqual(refs.map((_, i) => `h${i}`));
  });

  test("the rate limiter counts on the cluster", async () => {
    const rates = { ...services.config.rates, writesPerMinute: 2 };
    const limits = createRateLimits({ redis, rates });
    await limits.consume("posts.create", { userId: `rl-${run}`, address: "x" });
    await limits.consume("posts.create", { userId: `rl-${run}`, address: "x" });
    await expect(limits.consume("posts.create", { userId: `rl-${run}`, address: "x" })).rejects.toMatchObject({ code: "TOO_MANY_REQUESTS" });
    await limits.close();
  });

  test("deleting the namespace deletes its keys on every node", async () => {
    expect(await deleteNamespace(redis)).toBeGreaterThan(0);
    const left = await Promise.all((redis as Cluster).nodes("master").map((n) => n.keys(`c${run}:*`)));
    expect(left.flat()).toEqual([]);
  });
});

/** Redis Cluster's key slot: CRC16 (XMODEM) of the key, or of its hash tag, modulo 16384. */
function clusterKeySlot(key: string) {
  const open = key.indexOf("{");
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
