import type { RedisClient, Registry } from "../clients/redis";
import type { CachedItem } from "../model/feed";
import type { scripts } from "./cache-scripts";

/** What the cache's writer (cache.ts) and reader (cache-pages.ts) share: keys, the registry, how scripts are called. */

/** The name of the registry of users that may have a cache, scored by a time no earlier than the cache's expiry (ms): `feed:cached:{<shard>}`. */
export const registryName = "feed:cached";

/**
 * A user's cache: the sorted set and the hash, under one hash tag (one cluster slot). `v2`: since
 * the registries were split into shards; a cache built by an earlier version, registered where
 * no worker looks any more, is never read, and expires on its own.
 */
export function cacheKeys(userId: string): [zset: string, items: string] {
  return [`home:v2:{${userId}}`, `home:v2:{${userId}}:items`];
}

/**
 * A pulled account's cache (hybrid fan-out, docs/stream.md): its own newest activities, laid out
 * as a home feed's cache is and kept by the same scripts, read by every follower's page.
 */
export function accountKeys(userId: string): [zset: string, items: string] {
  return [`acct:v1:{${userId}}`, `acct:v1:{${userId}}:items`];
}

type Script = (...keysAndArgs: (string | number)[]) => Promise<unknown>;

/** The lock of a cache's rebuild, in the cache's slot: the third key of the rebuild's scripts. */
export const rebuildLock = (keys: [string, string]) => `${keys[0]}:lock`;

/**
 * Runs one of the cache's scripts on one cache's keys, on the client or queued on a pipeline. The
 * client is built with the scripts (`createRedis(…, { scripts })`, src/services.ts): ioredis then
 * sends EVALSHA and loads a script again after a Redis restart.
 */
export function runScript(target: unknown, name: keyof typeof scripts, keys: [string, string] | [string, string, string], ...args: (string | number)[]) {
  const script = (target as Record<string, Script | undefined>)[name];
  if (!script) throw new Error(`the Redis client lacks the feed cache's script ${name}: create it with { scripts } (src/feeds/cache-scripts.ts)`);
  return script.call(target, ...keys, ...args);
}

/** (score, id, entry) per item, as the scripts take them: the entry as the hash holds it, "<write time> <json>". */
export const triples = (items: CachedItem[]) => items.flatMap((i) => [i.createdAt.getTime(), i.id, `${i.ts} ${i.json}`]);

/** Runs a pipeline; throws the first command's error, else returns the replies. */
export async function execOrThrow(pipeline: { exec(): Promise<[Error | null, unknown][] | null> }) {
  const results = await pipeline.exec();
  const failed = results?.find(([err]) => err);
  if (failed) throw failed[0];
  return results;
}

/** Raises a user's registry entry: its cache may live until now + ttl, plus a minute of slack for clocks. Awaited before the command that creates or slides the cache. */
export const register = (registry: Registry, userId: string, ttlSeconds: number) => registry.raise(userId, Date.now() + (ttlSeconds + 60) * 1000);
