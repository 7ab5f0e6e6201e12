import type { FeedItem, FeedKey, Stored } from "./feeds";
import { scripts } from "./feed-cache-scripts";
import { type RedisClient, registered } from "./redis";

/**
 * The Redis cache of home feeds. Per user:
 * - `home:{u}`, a sorted set of activity ids scored by event time in ms (equal scores order by
 *   id, as Cassandra orders by activity id);
 * - `home:{u}:items`, a hash: activity id → "<write time> <item JSON>", plus `__state`
 *   (building|ready), `__build` (the token of the rebuild in progress), `__complete` (1 when the
 *   set holds the whole feed), `__size` (the set's size: a cache that lost one key to eviction
 *   is dropped whole and served as a miss) and removal markers ("<write time> "). Every add and removal
 *   carries its write time (src/stream/write-time.ts) and the later one wins, as in Cassandra.
 *   The scripts are in feed-cache-scripts.ts.
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
export function createFeedCache({ redis, length, ttlSeconds }: { redis: RedisClient; length: number; ttlSeconds: number }) {
  for (const [name, lua] of Object.entries(scripts)) redis.defineCommand(name, { numberOfKeys: 2, lua });
  type Script = (zset: string, hash: string, ...args: (string | number)[]) => Promise<unknown>;
  const run = (target: unknown, name: keyof typeof scripts, userId: string, ...args: (string | number)[]) =>
    (target as Record<string, Script>)[name]!(...cacheKeys(userId), ...args);
  /** Queues the registry raise for a user: its cache may live until now + ttl, plus a minute of slack for clocks. */
  const register = <P extends ReturnType<RedisClient["pipeline"]>>(pipeline: P, userId: string) =>
    pipeline.zadd(registry, "GT", Date.now() + (ttlSeconds + 60) * 1000, userId) as P;
  /** The targets that may have a cache now. */
  const withCache = (userIds: string[]) => registered(redis, registry, userIds);
  /** (score, id, write time, json) per item, as the scripts take them. */
  const quads = (items: Stored<FeedItem>[]) => items.flatMap((i) => [i.createdAt.getTime(), i.id, i.ts, JSON.stringify(toCached(i))]);

  return {
    keys: cacheKeys,

    /** Worker: adds one item to each user's cache that exists: one registry look-up, then one round trip for the cached users. */
    async add(userIds: string[], item: FeedItem, ts: number) {
      const cached = await withCache(userIds);
      if (cached.length === 0) return;
      const args = quads([{ ...item, ts }]);
      const pipeline = redis.pipeline();
      for (const u of cached) run(pipeline, "feedAdd", u, length, ...args);
      await execOrThrow(pipeline);
    },

    /** Worker: adds several items, each with its own write time, to one user's cache, if it exists. */
    async addMany(userId: string, items: Stored<FeedItem>[]) {
      if (items.length > 0) await run(redis, "feedAdd", userId, length, ...quads(items));
    },

    /** Worker: removes an item from each cache that exists, leaving a marker with the removal's write time. */
    async remove(userIds: string[], activityId: string, ts: number) {
      const cached = await withCache(userIds);
      if (cached.length === 0) return;
      const pipeline = redis.pipeline();
      for (const u of cached) run(pipeline, "feedRemove", u, ts, activityId);
      await execOrThrow(pipeline);
    },

    async removeMany(userId: string, activityIds: string[], ts: number) {
      if (activityIds.length > 0) await run(redis, "feedRemove", userId, ts, ...activityIds);
    },

    /**
     * Reader: one page in one round trip, or null when the cache is missing or still being
     * built. Slides the idle expiry. `complete` says whether the set holds the whole feed (so
     * running out of items means the end, not a trip to Cassandra).
     */
    async page(userId: string, limit: number, after?: FeedKey) {
      // The page slides the expiry, so the registry entry is raised first (same round trip).
      const pipeline = register(redis.pipeline(), userId);
      run(pipeline, "feedPage", userId, ttlSeconds, limit, after ? after.createdAt.getTime() : "", after?.id ?? "");
      const results = await execOrThrow(pipeline);
      const reply = results?.[1]?.[1] as null | [complete: number, ...rest: string[]];
      if (!reply) return null;
      const [complete, ...rest] = reply;
      const half = rest.length / 2;
      const items = rest.slice(half).flatMap((entry) => (entry ? [JSON.parse(entry.slice(entry.indexOf(" ") + 1)) as CachedItem] : []));
      return { items, complete: complete === 1 };
    },

    /**
     * Reader, on a miss: marks the cache as being built by this rebuild (`token`; writers start
     * landing in it at once), then `finishRebuild` merges what was read from Cassandra without
     * undoing those writes. Only the rebuild whose token the cache holds can finish it.
     */
    async startRebuild(userId: string, token: string) {
      const pipeline = register(redis.pipeline(), userId);
      pipeline.zremrangebyscore(registry, "-inf", Date.now()); // prune users whose caches have expired
      run(pipeline, "feedRebuildStart", userId, ttlSeconds, token);
      await execOrThrow(pipeline);
    },
    /** Returns false when another rebuild has started since this one (its token replaced this one's): nothing was merged. */
    async finishRebuild(userId: string, token: string, items: Stored<FeedItem>[], complete: boolean) {
      const pipeline = register(redis.pipeline(), userId);
      run(pipeline, "feedRebuildFinish", userId, length, ttlSeconds, complete ? 1 : 0, token, ...quads(items));
      const results = await execOrThrow(pipeline);
      return results?.[1]?.[1] === 1;
    },

    /** A short lock so that only one process rebuilds a user's cache at a time (the token fences the rest). */
    async lock(userId: string, token: string, ms: number) {
      return (await redis.set(`${cacheKeys(userId)[0]}:lock`, token, "PX", ms, "NX")) === "OK";
    },
    async unlock(userId: string, token: string) {
      await redis.eval(unlockScript, 1, `${cacheKeys(userId)[0]}:lock`, token);
    },
  };
}

export type FeedCache = ReturnType<typeof createFeedCache>;

/** Users that may have a cache, scored by a time no earlier than the cache's expiry (ms). */
export const registry = "feed:cached";

export function cacheKeys(userId: string): [zset: string, items: string] {
  return [`home:{${userId}}`, `home:{${userId}}:items`];
}

/** The JSON a page serves for one item: what a client renders, nothing to look up. */
export function toCached(item: FeedItem) {
  return {
    id: item.id,
    verb: item.verb,
    actor: { id: item.actorId, handle: item.actorHandle },
    object: item.object,
    postId: item.postId,
    excerpt: item.excerpt,
    createdAt: item.createdAt.toISOString(),
  };
}

export type CachedItem = ReturnType<typeof toCached>;

/** Where a served item sits in its feed: the key cursors and live positions are made of. */
export const positionOf = (item: CachedItem): FeedKey => ({ createdAt: new Date(item.createdAt), id: item.id });

/** Runs a pipeline; throws the first command's error, else returns the replies. */
async function execOrThrow(pipeline: { exec(): Promise<[Error | null, unknown][] | null> }) {
  const results = await pipeline.exec();
  const failed = results?.find(([err]) => err);
  if (failed) throw failed[0];
  return results;
}

const unlockScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
