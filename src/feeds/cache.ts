import { type RedisClient, registered } from "../clients/redis";
import type { FeedItem, Stored } from "../model/feed";
import { cacheKeys, execOrThrow, quads, registry, runScript } from "./cache-keys";

/**
 * The Redis cache of home feeds. Per user:
 * - `home:{u}`, a sorted set of activity ids scored by event time in ms (equal scores order by
 *   id, as Cassandra orders by activity id);
 * - `home:{u}:items`, a hash: activity id → "<write time> <item JSON>", plus `__state`
 *   (building|ready), `__build` (the token of the rebuild in progress), `__complete` (1 when the
 *   set holds the whole feed), `__size` (the set's size: a cache that lost one key to eviction
 *   is dropped whole and served as a miss) and removal markers ("<write time> "). Every add and removal
 *   carries its write time (src/model/write-time.ts) and the later one wins, as in Cassandra.
 *   The scripts are in cache-scripts.ts; the reads (pages, rebuilds) in cache-pages.ts.
 * Both keys share a hash tag (one cluster slot). A cache exists only where a reader built it:
 * writers touch users whose hash exists, never create one, never extend the idle expiry.
 *
 * `feed:cached`, a sorted set of users scored by a time (ms) no earlier than their cache's
 * expiry, tells a fan-out which targets have a cache, so that it sends cache updates to those
 * only (most followers of a post are not reading right now). The rule that keeps it safe: the
 * registry is raised (ZADD GT) before any command that creates a cache or extends its expiry,
 * in the same pipeline on the same connection, so a cache never outlives its registry entry.
 * A stale entry costs one no-op script call; entries past their time are pruned on rebuild.
 */
export function createFeedCache({ redis, length }: { redis: RedisClient; length: number }) {
  /** The targets that may have a cache now. */
  const withCache = (userIds: string[]) => registered(redis, registry, userIds);

  return {
    keys: cacheKeys,

    /** Worker: adds one item to each user's cache that exists: one registry look-up, then one round trip for the cached users. */
    async add(userIds: string[], item: FeedItem, ts: number) {
      const cached = await withCache(userIds);
      if (cached.length === 0) return;
      const args = quads([{ ...item, ts }]);
      const pipeline = redis.pipeline();
      for (const u of cached) runScript(pipeline, "feedAdd", u, length, ...args);
      await execOrThrow(pipeline);
    },

    /** Worker: adds several items, each with its own write time, to one user's cache, if it exists. */
    async addMany(userId: string, items: Stored<FeedItem>[]) {
      if (items.length > 0) await runScript(redis, "feedAdd", userId, length, ...quads(items));
    },

    /** Worker: removes an item from each cache that exists, leaving a marker with the removal's write time. */
    async remove(userIds: string[], activityId: string, ts: number) {
      const cached = await withCache(userIds);
      if (cached.length === 0) return;
      const pipeline = redis.pipeline();
      for (const u of cached) runScript(pipeline, "feedRemove", u, ts, activityId);
      await execOrThrow(pipeline);
    },

    async removeMany(userId: string, activityIds: string[], ts: number) {
      if (activityIds.length > 0) await runScript(redis, "feedRemove", userId, ts, ...activityIds);
    },
  };
}

export type FeedCache = ReturnType<typeof createFeedCache>;
