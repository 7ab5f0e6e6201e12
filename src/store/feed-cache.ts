import type { FeedItem } from "./feeds";
import type { RedisClient } from "./redis";

/**
 * The Redis cache of home feeds: per user a sorted set of activity ids scored by event time
 * (ties ordered by id, as in Cassandra) and a hash of the rendered items. Writers only touch a
 * user whose cache exists (a reader built it); idle keys expire on the readers' sliding TTL.
 * Both keys share a hash tag, so the scripts work on a Redis Cluster.
 */
export function createFeedCache({ redis, length, ttlSeconds }: { redis: RedisClient; length: number; ttlSeconds: number }) {
  redis.defineCommand("feedAdd", { numberOfKeys: 2, lua: addScript });
  redis.defineCommand("feedRemove", { numberOfKeys: 2, lua: removeScript });
  const r = redis as RedisClient & {
    feedAdd(zset: string, hash: string, ...args: (string | number)[]): Promise<number>;
    feedRemove(zset: string, hash: string, id: string): Promise<number>;
  };

  return {
    keys: cacheKeys,

    /** Adds one item to each user's cache that exists; one round trip for all users. */
    async add(userIds: string[], item: FeedItem) {
      if (userIds.length === 0) return;
      const args = [length, item.createdAt.getTime(), item.id, JSON.stringify(toCached(item))];
      const pipeline = r.pipeline();
      for (const u of userIds) (pipeline as unknown as typeof r).feedAdd(...cacheKeys(u), ...args);
      await execOrThrow(pipeline);
    },

    /** Adds several items to one user's cache, if it exists. */
    async addMany(userId: string, items: FeedItem[]) {
      if (items.length === 0) return;
      const args = items.flatMap((i) => [i.createdAt.getTime(), i.id, JSON.stringify(toCached(i))]);
      await r.feedAdd(...cacheKeys(userId), length, ...args);
    },

    /**
     * Creates a user's cache from items read from Cassandra (the read side's rebuild), replacing
     * what was there, with the idle expiry that readers slide forward; writers never extend it.
     */
    async warm(userId: string, items: FeedItem[]) {
      const [zset, hash] = cacheKeys(userId);
      const tx = r.multi().del(zset, hash);
      for (const i of items.slice(0, length)) {
        tx.zadd(zset, i.createdAt.getTime(), i.id).hset(hash, i.id, JSON.stringify(toCached(i)));
      }
      tx.expire(zset, ttlSeconds).expire(hash, ttlSeconds);
      await execOrThrow(tx);
    },

    async remove(userIds: string[], activityId: string) {
      if (userIds.length === 0) return;
      const pipeline = r.pipeline();
      for (const u of userIds) (pipeline as unknown as typeof r).feedRemove(...cacheKeys(u), activityId);
      await execOrThrow(pipeline);
    },

    async removeMany(userId: string, activityIds: string[]) {
      if (activityIds.length === 0) return;
      const pipeline = r.pipeline();
      for (const id of activityIds) (pipeline as unknown as typeof r).feedRemove(...cacheKeys(userId), id);
      await execOrThrow(pipeline);
    },
  };
}

export type FeedCache = ReturnType<typeof createFeedCache>;

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

async function execOrThrow(pipeline: { exec(): Promise<[Error | null, unknown][] | null> }) {
  const results = await pipeline.exec();
  const failed = results?.find(([err]) => err);
  if (failed) throw failed[0];
}

/** ARGV: max length, then (score, id, json) triples. Does nothing where the cache does not exist. */
const addScript = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local maxlen = tonumber(ARGV[1])
for i = 2, #ARGV, 3 do
  redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('HSET', KEYS[2], ARGV[i + 1], ARGV[i + 2])
end
local size = redis.call('ZCARD', KEYS[1])
if size > maxlen then
  local drop = redis.call('ZRANGE', KEYS[1], 0, size - maxlen - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, size - maxlen - 1)
  redis.call('HDEL', KEYS[2], unpack(drop))
end
return 1
`;

const removeScript = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`;
