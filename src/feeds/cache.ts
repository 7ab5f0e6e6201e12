import { createRegistry, type RedisClient } from "../clients/redis";
import { type FeedItem, type Stored, cachedItemOf } from "../model/feed";
import { accountKeys, cacheKeys, triples, registryName, runScript } from "./cache-keys";

/**
 * The Redis cache of home feeds. Per user:
 * - `home:v2:{u}`, a sorted set of activity ids scored by event time in ms (equal scores order by
 *   id, as Cassandra orders by activity id);
 * - `home:v2:{u}:items`, a hash: activity id → "<write time> <item JSON>", plus `__state`
 *   (building|ready), `__build` (the token of the rebuild in progress), `__complete` (1 when the
 *   set holds the whole feed), `__size` (the set's size: a cache that lost one key to eviction
 *   is dropped whole and served as a miss) and removal markers ("<write time> "). Every add and removal
 *   carries its write time (src/model/write-time.ts) and the later one wins, as in Cassandra.
 *   The scripts are in cache-scripts.ts; the reads (pages, rebuilds) in cache-pages.ts.
 * Both keys share a hash tag (one cluster slot). A cache exists only where a reader built it:
 * writers touch users whose hash exists, never create one, never extend the idle expiry.
 *
 * `feed:cached:{<shard>}`, sorted sets of users scored by a time (ms) no earlier than their
 * cache's expiry (a registry split by user: src/clients/redis.ts), tell a fan-out which targets
 * have a cache, so that it sends cache updates to those only (most followers of a post are not
 * reading right now). The rule that keeps it safe: the registry is raised (ZADD GT), and the
 * raise acknowledged, before any command that creates a cache or extends its expiry, so a cache
 * never outlives its registry entry. A stale entry costs one no-op script call; entries past
 * their time are pruned as entries of their shard are raised (at most once a second per shard and
 * process).
 *
 * Every command touches one user's keys (one hash slot), so the cache works on a Redis Cluster as
 * on one node; commands for many users are sent together (auto-pipelined, per node on a cluster).
 */
export function createFeedCache({ redis, length }: { redis: RedisClient; length: number }) {
  const registry = createRegistry(redis, registryName);
  /** The targets that may have a cache now. */
  const withCache = (userIds: string[]) => registry.registered(userIds);
  const home = cacheKeys;

  return {
    keys: cacheKeys,
    /** Who may have a cache. */
    registry,

    /** Worker: adds one item to each user's cache that exists: one registry look-up, then one script call per cached user, sent together. */
    async add(userIds: string[], item: FeedItem, ts: number) {
      const cached = await withCache(userIds);
      if (cached.length === 0) return;
      const args = triples([cachedItemOf({ ...item, ts })]);
      await Promise.all(cached.map((u) => runScript(redis, "feedAdd", home(u), length, ...args)));
    },

    /** Worker: adds several items, each with its own write time, to one user's cache, if it exists. */
    async addMany(userId: string, items: Stored<FeedItem>[]) {
      if (items.length > 0) await runScript(redis, "feedAdd", home(userId), length, ...triples(items.map(cachedItemOf)));
    },

    /** Worker: removes an item from each cache that exists, leaving a marker with the removal's write time. */
    async remove(userIds: string[], activityId: string, ts: number) {
      const cached = await withCache(userIds);
      if (cached.length === 0) return;
      await Promise.all(cached.map((u) => runScript(redis, "feedRemove", home(u), ts, activityId)));
    },

    async removeMany(userId: string, activityIds: string[], ts: number) {
      if (activityIds.length > 0) await runScript(redis, "feedRemove", home(userId), ts, ...activityIds);
    },

    /** Worker: tells each of these users' caches that exist that it pulls `sourceId` in at read time now, or no longer. */
    async sources(userIds: string[], sourceId: string, pulled: boolean, ts: number) {
      const cached = await withCache(userIds);
      await Promise.all(cached.map((u) => runScript(redis, "feedSources", home(u), ts, sourceId, pulled ? 1 : 0)));
    },

    /** Worker: a pulled account's cache of its own activities (read by its followers' pages), where it exists. */
    account: {
      add: async (userId: string, items: Stored<FeedItem>[]) => void (items.length > 0 && (await runScript(redis, "feedAdd", accountKeys(userId), length, ...triples(items.map(cachedItemOf))))),
      remove: async (userId: string, activityIds: string[], ts: number) =>
        void (activityIds.length > 0 && (await runScript(redis, "feedRemove", accountKeys(userId), ts, ...activityIds))),
      drop: async (userId: string) => void (await redis.del(...accountKeys(userId))),
    },
  };
}

export type FeedCache = ReturnType<typeof createFeedCache>;
