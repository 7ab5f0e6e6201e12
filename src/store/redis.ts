import Redis from "ioredis";
import type { Config } from "../config";

/** The Redis client. Commands fail fast while disconnected instead of queueing forever. */
export function createRedis(config: Config["redis"], options: { lazyConnect?: boolean } = {}) {
  return new Redis({
    host: config.host,
    port: config.port,
    lazyConnect: options.lazyConnect ?? false,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
  });
}

export type RedisClient = ReturnType<typeof createRedis>;

/**
 * Of `members`, those whose score in the sorted set `key` is a time (ms) still in the future:
 * the registries of live subscribers and of cached feeds. One ZMSCORE per 10,000 members.
 */
export async function registered(redis: RedisClient, key: string, members: string[]) {
  const found: string[] = [];
  const now = Date.now();
  for (let i = 0; i < members.length; i += 10_000) {
    const chunk = members.slice(i, i + 10_000);
    const until = await redis.zmscore(key, ...chunk);
    chunk.forEach((m, j) => {
      if (Number(until[j] ?? 0) > now) found.push(m);
    });
  }
  return found;
}
