import type { FeedItem, FeedKey } from "./feeds";
import { type RedisClient, registered } from "./redis";

/**
 * The Redis cache of home feeds. Per user:
 * - `feed:{u}`, a sorted set of activity ids scored by event time in ms (equal scores order by
 *   id, as Cassandra orders by activity id);
 * - `feed:{u}:items`, a hash: activity id → rendered item JSON, plus `__state` (building|ready),
 *   `__complete` (1 when the set holds the whole feed) and deletion markers.
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
  const triples = (items: FeedItem[]) => items.flatMap((i) => [i.createdAt.getTime(), i.id, JSON.stringify(toCached(i))]);

  return {
    keys: cacheKeys,

    /** Worker: adds one item to each user's cache that exists: one registry look-up, then one round trip for the cached users. */
    async add(userIds: string[], item: FeedItem) {
      const cached = await withCache(userIds);
      if (cached.length === 0) return;
      const args = triples([item]);
      const pipeline = redis.pipeline();
      for (const u of cached) run(pipeline, "feedAdd", u, length, ...args);
      await execOrThrow(pipeline);
    },

    /** Worker: adds several items to one user's cache, if it exists. */
    async addMany(userId: string, items: FeedItem[]) {
      if (items.length > 0) await run(redis, "feedAdd", userId, length, ...triples(items));
    },

    /** Worker: removes an item from each cache that exists, leaving a marker so a rebuild in progress does not bring it back. */
    async remove(userIds: string[], activityId: string) {
      const cached = await withCache(userIds);
      if (cached.length === 0) return;
      const pipeline = redis.pipeline();
      for (const u of cached) run(pipeline, "feedRemove", u, activityId);
      await execOrThrow(pipeline);
    },

    async removeMany(userId: string, activityIds: string[]) {
      if (activityIds.length === 0) return;
      const pipeline = redis.pipeline();
      for (const id of activityIds) run(pipeline, "feedRemove", userId, id);
      await execOrThrow(pipeline);
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
      const items = rest.slice(half).flatMap((json) => (json ? [JSON.parse(json) as CachedItem] : []));
      return { items, complete: complete === 1 };
    },

    /**
     * Reader, on a miss: marks the cache as being built (writers start landing in it at once),
     * then `finishRebuild` merges what was read from Cassandra without undoing those writes.
     */
    async startRebuild(userId: string) {
      const pipeline = register(redis.pipeline(), userId);
      pipeline.zremrangebyscore(registry, "-inf", Date.now()); // prune users whose caches have expired
      run(pipeline, "feedRebuildStart", userId, ttlSeconds);
      await execOrThrow(pipeline);
    },
    async finishRebuild(userId: string, items: FeedItem[], complete: boolean) {
      const pipeline = register(redis.pipeline(), userId);
      run(pipeline, "feedRebuildFinish", userId, length, ttlSeconds, complete ? 1 : 0, ...triples(items));
      await execOrThrow(pipeline);
    },

    /** A short lock so that only one process rebuilds a user's cache at a time. */
    async lock(userId: string, token: string, ms: number) {
      return (await redis.set(`${cacheKeys(userId)[0]}:lock`, token, "PX", ms, "NX")) === "OK";
    },
    async unlock(userId: string, token: string) {
      await redis.eval(unlockScript, 1, `${cacheKeys(userId)[0]}:lock`, token);
    },

    /** Builds a ready cache from the given items at once (tests; a rebuild without concurrency). */
    async warm(userId: string, items: FeedItem[]) {
      await this.startRebuild(userId);
      await this.finishRebuild(userId, items, items.length < length);
    },
  };
}

export type FeedCache = ReturnType<typeof createFeedCache>;

/** Users that may have a cache, scored by a time no earlier than the cache's expiry (ms). */
export const registry = "feed:cached";

export function cacheKeys(userId: string): [zset: string, items: string] {
  return [`feed:{${userId}}`, `feed:{${userId}}:items`];
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

/** Marks a deleted item in the hash while the cache lives, so a rebuild's merge skips it. */
const deleted = "\u0000deleted";

/** Shared Lua: trims the set to ARGV max length, dropping items from the hash and marking the cache incomplete. */
const trim = `
local function trim(maxlen)
  local size = redis.call('ZCARD', KEYS[1])
  if size > maxlen then
    local drop = redis.call('ZRANGE', KEYS[1], 0, size - maxlen - 1)
    redis.call('ZREMRANGEBYRANK', KEYS[1], 0, size - maxlen - 1)
    for _, id in ipairs(drop) do redis.call('HDEL', KEYS[2], id) end
    redis.call('HSET', KEYS[2], '__complete', '0')
  end
end
`;

/** Shared Lua: whether (score, id) comes after (tailScore, tailId) in feed order, i.e. is older. */
const below = `
local function below(score, id, tailScore, tailId)
  return score < tailScore or (score == tailScore and id < tailId)
end
`;

const scripts = {
  /**
   * ARGV: max length, then (score, id, json) triples. Only where the cache exists. A cache that
   * is not complete holds an unbroken run of the newest items down to its tail, and readers go on
   * from Cassandra after the tail: an item older than the tail is left out (it is in Cassandra,
   * where the reader will find it in its place), or the run would have a gap before it.
   */
  feedAdd: `${trim}${below}
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local partial = redis.call('HGET', KEYS[2], '__complete') ~= '1'
local tail = partial and redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES') or {}
for i = 2, #ARGV, 3 do
  if tail[1] == nil or not below(tonumber(ARGV[i]), ARGV[i + 1], tonumber(tail[2]), tail[1]) then
    redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
    redis.call('HSET', KEYS[2], ARGV[i + 1], ARGV[i + 2])
  end
end
trim(tonumber(ARGV[1]))
return 1
`,
  /** ARGV: activity id. */
  feedRemove: `
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], '${deleted}')
return 1
`,
  /** ARGV: ttl. Empties the cache and marks it as being built. */
  feedRebuildStart: `
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[2], '__state', 'building')
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
`,
  /**
   * ARGV: max length, ttl, complete (1|0), then triples. Adds what a writer has not already added
   * or deleted. When the read was not the whole feed, whatever a writer added below its last item
   * is dropped: the cache must end in an unbroken run (see feedAdd).
   */
  feedRebuildFinish: `${trim}${below}
if redis.call('HGET', KEYS[2], '__state') ~= 'building' then return 0 end
for i = 4, #ARGV, 3 do
  if redis.call('HEXISTS', KEYS[2], ARGV[i + 1]) == 0 then
    redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
    redis.call('HSET', KEYS[2], ARGV[i + 1], ARGV[i + 2])
  end
end
if ARGV[3] == '0' and #ARGV >= 6 then
  local lastScore, lastId = tonumber(ARGV[#ARGV - 2]), ARGV[#ARGV - 1]
  local candidates = redis.call('ZRANGE', KEYS[1], '-inf', lastScore, 'BYSCORE', 'WITHSCORES')
  for j = 1, #candidates, 2 do
    local id = candidates[j]
    if below(tonumber(candidates[j + 1]), id, lastScore, lastId) then
      redis.call('ZREM', KEYS[1], id)
      redis.call('HDEL', KEYS[2], id)
    end
  end
end
redis.call('HSET', KEYS[2], '__state', 'ready', '__complete', ARGV[3])
trim(tonumber(ARGV[1]))
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
`,
  /**
   * ARGV: ttl, n, cursor score ('' for the first page), cursor id. Returns nil on a miss, else
   * { complete, id1..idk, json1..jsonk } for the k (≤ n) items after the cursor, newest first.
   */
  feedPage: `
if redis.call('HGET', KEYS[2], '__state') ~= 'ready' then return nil end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
local n = tonumber(ARGV[2])
local ids = {}
if ARGV[3] == '' then
  ids = redis.call('ZRANGE', KEYS[1], '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, n)
else
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], ARGV[3], ARGV[3], 'BYSCORE', 'REV')) do
    if #ids < n and id < ARGV[4] then ids[#ids + 1] = id end
  end
  if #ids < n then
    for _, id in ipairs(redis.call('ZRANGE', KEYS[1], '(' .. ARGV[3], '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, n - #ids)) do
      ids[#ids + 1] = id
    end
  end
end
local complete = redis.call('HGET', KEYS[2], '__complete') == '1' and 1 or 0
local out = { complete }
for _, id in ipairs(ids) do out[#out + 1] = id end
if #ids > 0 then
  for _, json in ipairs(redis.call('HMGET', KEYS[2], unpack(ids))) do out[#out + 1] = json or '' end
end
return out
`,
};

const unlockScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
