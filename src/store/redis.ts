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
