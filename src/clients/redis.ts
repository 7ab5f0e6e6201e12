import Redis from "ioredis";
import type { Config } from "../config";

/**
 * The Redis client. Commands fail fast while disconnected instead of queueing forever; the client
 * reconnects by itself (every 50 ms growing to 2 s). Connection errors are logged once per outage
 * (or not at all when `quiet`, for probes) rather than thrown as unhandled `error` events.
 */
export function createRedis(
  config: Config["redis"],
  options: {
    lazyConnect?: boolean;
    name?: string;
    quiet?: boolean;
    scripts?: Record<string, { lua: string; numberOfKeys: number }>;
    /** Commands issued in the same tick leave in one write (ioredis auto-pipelining); explicit pipelines are unchanged. */
    autoPipelining?: boolean;
  } = {},
) {
  const redis = new Redis({
    host: config.host,
    port: config.port,
    lazyConnect: options.lazyConnect ?? false,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 50, 2000),
    // Lua scripts as commands (EVALSHA, loaded again after a Redis restart), for the callers that need them.
    scripts: options.scripts,
    enableAutoPipelining: options.autoPipelining ?? false,
    // Before every key of every command, scripts' KEYS included (not pub/sub channels: live.ts adds it to those).
    keyPrefix: config.keyPrefix,
  });
  if (options.quiet) redis.on("error", () => {});
  else logOutages(redis, options.name ?? "redis");
  return redis;
}

/** One line when a client loses Redis and one when it is back; nothing in between. */
export function logOutages(redis: Redis, name: string) {
  let downSince: number | undefined;
  redis.on("error", (err: Error) => {
    if (downSince !== undefined) return;
    downSince = Date.now();
    console.warn(`[${name}] lost Redis: ${err.message}; reconnecting`);
  });
  redis.on("ready", () => {
    if (downSince === undefined) return;
    console.warn(`[${name}] Redis is back after ${((Date.now() - downSince) / 1000).toFixed(1)} s`);
    downSince = undefined;
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

/**
 * Deletes every key of this client's namespace (its `keyPrefix`): what losing Redis loses, for
 * one deployment or test run only. FLUSHDB when the client has no prefix. Returns how many keys
 * went (FLUSHDB: -1, uncounted).
 */
export async function deleteNamespace(redis: RedisClient) {
  const prefix = redis.options.keyPrefix ?? "";
  if (!prefix) {
    await redis.flushdb();
    return -1;
  }
  let deleted = 0;
  let cursor = "0";
  do {
    // SCAN's pattern and the names it returns carry the prefix; UNLINK adds it again, so it is cut.
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys.map((k) => k.slice(prefix.length)));
  } while (cursor !== "0");
  return deleted;
}
