import type { RedisClient } from "../clients/redis";
import type { FeedItem, FeedKey, Stored, WireItem } from "../model/feed";
import { cacheKeys, execOrThrow, quads, register, registry, runScript } from "./cache-keys";
import { unlockLua } from "./cache-scripts";

/**
 * The reads of the home feed cache (the layout is described in cache.ts): a page in one round
 * trip, and the rebuild from Cassandra on a miss, fenced by a token and serialized by a short lock.
 */
export function createCachePages({ redis, length, ttlSeconds }: { redis: RedisClient; length: number; ttlSeconds: number }) {
  return {
    /**
     * Reader: one page in one round trip, or null when the cache is missing or still being
     * built. Slides the idle expiry. `complete` says whether the set holds the whole feed (so
     * running out of items means the end, not a trip to Cassandra).
     */
    async page(userId: string, limit: number, after?: FeedKey) {
      // The page slides the expiry, so the registry entry is raised first (same round trip).
      const pipeline = register(redis.pipeline(), userId, ttlSeconds);
      runScript(pipeline, "feedPage", userId, ttlSeconds, limit, after ? after.createdAt.getTime() : "", after?.id ?? "");
      const results = await execOrThrow(pipeline);
      const reply = results?.[1]?.[1] as null | [complete: number, ...rest: string[]];
      if (!reply) return null;
      const [complete, ...rest] = reply;
      const half = rest.length / 2;
      const items = rest.slice(half).flatMap((entry) => (entry ? [JSON.parse(entry.slice(entry.indexOf(" ") + 1)) as WireItem] : []));
      return { items, complete: complete === 1 };
    },

    /**
     * Reader, on a miss: marks the cache as being built by this rebuild (`token`; writers start
     * landing in it at once), then `finishRebuild` merges what was read from Cassandra without
     * undoing those writes. Only the rebuild whose token the cache holds can finish it.
     */
    async startRebuild(userId: string, token: string) {
      const pipeline = register(redis.pipeline(), userId, ttlSeconds);
      pipeline.zremrangebyscore(registry, "-inf", Date.now()); // prune users whose caches have expired
      runScript(pipeline, "feedRebuildStart", userId, ttlSeconds, token);
      await execOrThrow(pipeline);
    },
    /** Returns false when another rebuild has started since this one (its token replaced this one's): nothing was merged. */
    async finishRebuild(userId: string, token: string, items: Stored<FeedItem>[], complete: boolean) {
      const pipeline = register(redis.pipeline(), userId, ttlSeconds);
      runScript(pipeline, "feedRebuildFinish", userId, length, ttlSeconds, complete ? 1 : 0, token, ...quads(items));
      const results = await execOrThrow(pipeline);
      return results?.[1]?.[1] === 1;
    },

    /** A short lock so that only one process rebuilds a user's cache at a time (the token fences the rest). */
    async lock(userId: string, token: string, ms: number) {
      return (await redis.set(`${cacheKeys(userId)[0]}:lock`, token, "PX", ms, "NX")) === "OK";
    },
    async unlock(userId: string, token: string) {
      await redis.eval(unlockLua, 1, `${cacheKeys(userId)[0]}:lock`, token);
    },
  };
}

export type CachePages = ReturnType<typeof createCachePages>;
