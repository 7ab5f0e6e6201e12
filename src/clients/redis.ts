import Redis, { Cluster } from "ioredis";
import type { Config } from "../config";

/**
 * The Redis client: one node, or a Redis Cluster when `clusterNodes` are configured (the same
 * calls work on both: every command and script of the service touches keys of one hash slot;
 * see docs/stream.md, "Redis"). Commands fail fast while disconnected instead of queueing
 * forever; the client reconnects by itself (every 50 ms growing to 2 s). Connection errors are
 * logged once per outage (or not at all when `quiet`, for probes) rather than thrown as unhandled
 * `error` events.
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
  const reconnect = (times: number) => Math.min(times * 50, 2000);
  const common = {
    lazyConnect: options.lazyConnect ?? false,
    // Lua scripts as commands (EVALSHA, loaded again after a Redis restart), for the callers that need them.
    scripts: options.scripts,
    enableAutoPipelining: options.autoPipelining ?? false,
    enableOfflineQueue: true,
  };
  const node = {
    maxRetriesPerRequest: 2,
    retryStrategy: reconnect,
    // Before every key of every command, scripts' KEYS included (not pub/sub channels: live.ts adds it to those).
    keyPrefix: config.keyPrefix,
  };
  const redis: RedisClient =
    config.clusterNodes && config.clusterNodes.length > 0
      ? new Cluster(config.clusterNodes, { ...common, clusterRetryStrategy: reconnect, redisOptions: node })
      : new Redis({ host: config.host, port: config.port, ...common, ...node });
  if (options.quiet) redis.on("error", () => {});
  else logOutages(redis, options.name ?? "redis");
  return redis;
}

/** One line when a client loses Redis and one when it is back; nothing in between. */
export function logOutages(redis: RedisClient, name: string) {
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

export type RedisClient = Redis | Cluster;

/** A second connection (or cluster client) like `redis`, with auto-pipelining on or off. */
export function duplicateRedis(redis: RedisClient, options: { autoPipelining: boolean }) {
  return redis instanceof Cluster
    ? redis.duplicate([], { enableAutoPipelining: options.autoPipelining })
    : redis.duplicate({ enableAutoPipelining: options.autoPipelining });
}

/**
 * A registry of users (who has a cached feed, who listens live): sorted sets scored by the time
 * (ms) until which each user counts. On a cluster it is split into `registryShards` keys by a hash
 * of the user id, so that the cluster spreads them over its nodes (each shard key is one hash
 * slot) and no single key takes every registration. On one node it is one key: shards would only
 * add commands (a fan-out sends one look-up per shard its targets fall in).
 */
export function createRegistry(redis: RedisClient, name: string) {
  const shards = redis instanceof Cluster ? registryShards : 1;
  const keyOf = (member: string) => `${name}:{${shardOf(member, shards)}}`;
  /**
   * When this process last pruned each shard. A look-up ignores entries past their time, so
   * pruning only frees memory: once a second per shard and process is enough, rather than a
   * command more on every raise (every live stream raises itself every 20 s).
   */
  const pruned = new Map<string, number>();
  return {
    keyOf,
    /** Counts the member until `untilMs`, never lowering a later time (ZADD GT); prunes the shard's entries past their time, at most once a second per shard and process. */
    async raise(member: string, untilMs: number, now = Date.now()) {
      const key = keyOf(member);
      const adding = redis.zadd(key, "GT", untilMs, member);
      if (now - (pruned.get(key) ?? -Infinity) < 1000) return void (await adding);
      pruned.set(key, now);
      await Promise.all([adding, redis.zremrangebyscore(key, "-inf", now)]);
    },
    /** No longer counts the member. */
    async drop(member: string) {
      await redis.zrem(keyOf(member), member);
    },
    /** Of `members`, those whose time is still in the future: one ZMSCORE per shard and 10,000 members, sent together. */
    async registered(members: string[]) {
      const byShard = new Map<string, string[]>();
      for (const m of members) {
        const key = keyOf(m);
        const list = byShard.get(key);
        if (list) list.push(m);
        else byShard.set(key, [m]);
      }
      const now = Date.now();
      const chunks = [...byShard].flatMap(([key, list]) => Array.from({ length: Math.ceil(list.length / 10_000) }, (_, i) => ({ key, chunk: list.slice(i * 10_000, (i + 1) * 10_000) })));
      const scores = await Promise.all(chunks.map(({ key, chunk }) => redis.zmscore(key, ...chunk)));
      return chunks.flatMap(({ chunk }, i) => chunk.filter((_, j) => Number(scores[i]![j] ?? 0) > now));
    },
  };
}

export type Registry = ReturnType<typeof createRegistry>;

/** How many keys a registry is split into on a cluster. */
export const registryShards = 16;

/** A member's registry shard: FNV-1a of its id, modulo the shard count. */
function shardOf(member: string, shards: number) {
  if (shards === 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < member.length; i++) h = Math.imul(h ^ member.charCodeAt(i), 0x01000193);
  return (h >>> 0) % shards;
}

/**
 * Deletes every key of this client's namespace (its `keyPrefix`): what losing Redis loses, for
 * one deployment or test run only. FLUSHDB when the client has no prefix. Returns how many keys
 * went (FLUSHDB: -1, uncounted).
 */
export async function deleteNamespace(redis: RedisClient) {
  const prefix = redis.options.keyPrefix ?? "";
  // A cluster's keys are scanned node by node (SCAN has no key to route by).
  const nodes: Redis[] = redis instanceof Cluster ? redis.nodes("master") : [redis];
  if (!prefix) {
    await Promise.all(nodes.map((n) => n.flushdb()));
    return -1;
  }
  let deleted = 0;
  for (const node of nodes) {
    let cursor = "0";
    do {
      // SCAN's pattern and the names it returns carry the prefix; UNLINK adds it again, so it is cut.
      // One key per UNLINK: a cluster refuses keys of different slots in one command.
      const [next, keys] = await node.scan(cursor, "MATCH", `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`, "COUNT", 1000);
      cursor = next;
      const gone = await Promise.all(keys.map((k) => redis.unlink(k.slice(prefix.length))));
      deleted += gone.reduce((a, b) => a + b, 0);
    } while (cursor !== "0");
  }
  return deleted;
}
