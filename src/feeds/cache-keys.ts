import type { RedisClient } from "../clients/redis";
import { type FeedItem, type Stored, toWireItem } from "../model/feed";
import type { scripts } from "./cache-scripts";

/** What the cache's writer (cache.ts) and reader (cache-pages.ts) share: keys, the registry, how scripts are called. */

/** Users that may have a cache, scored by a time no earlier than the cache's expiry (ms). */
export const registry = "feed:cached";

/** A user's cache: the sorted set and the hash, under one hash tag (one cluster slot). */
export function cacheKeys(userId: string): [zset: string, items: string] {
  return [`home:{${userId}}`, `home:{${userId}}:items`];
}

type Script = (zset: string, hash: string, ...args: (string | number)[]) => Promise<unknown>;

/**
 * Runs one of the cache's scripts on a user's keys, on the client or queued on a pipeline. The
 * client is built with the scripts (`createRedis(…, { scripts })`, src/services.ts): ioredis then
 * sends EVALSHA and loads a script again after a Redis restart.
 */
export function runScript(target: unknown, name: keyof typeof scripts, userId: string, ...args: (string | number)[]) {
  const script = (target as Record<string, Script | undefined>)[name];
  if (!script) throw new Error(`the Redis client lacks the feed cache's script ${name}: create it with { scripts } (src/feeds/cache-scripts.ts)`);
  return script.call(target, ...cacheKeys(userId), ...args);
}

/** (score, id, write time, json) per item, as the scripts take them. */
export const quads = (items: Stored<FeedItem>[]) => items.flatMap((i) => [i.createdAt.getTime(), i.id, i.ts, JSON.stringify(toWireItem(i))]);

/** Runs a pipeline; throws the first command's error, else returns the replies. */
export async function execOrThrow(pipeline: { exec(): Promise<[Error | null, unknown][] | null> }) {
  const results = await pipeline.exec();
  const failed = results?.find(([err]) => err);
  if (failed) throw failed[0];
  return results;
}

/** Queues the registry raise for a user: its cache may live until now + ttl, plus a minute of slack for clocks. */
export function register<P extends ReturnType<RedisClient["pipeline"]>>(pipeline: P, userId: string, ttlSeconds: number) {
  return pipeline.zadd(registry, "GT", Date.now() + (ttlSeconds + 60) * 1000, userId) as P;
}
