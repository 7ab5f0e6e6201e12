import { createTokens, randomSecret } from "./auth";
import type { Config } from "./config";
import { checkHealth, probes, publicHealth } from "./health";
import { createMetrics } from "./metrics";
import { createRateLimits } from "./api/rate-limits";
import { createCursors } from "./api/cursor";
import { createWriteStore } from "./source/writes";
import { createCassandra } from "./clients/cassandra";
import { createFeedCache } from "./feeds/cache";
import { createCachePages } from "./feeds/cache-pages";
import { cacheScripts } from "./feeds/cache-scripts";
import { createFeedReader } from "./read/reader";
import { createEnricher, createLookUp } from "./read/enrich";
import { createNotificationReader } from "./read/notifications";
import { createObjectCache, objectScripts } from "./feeds/objects";
import { createNotificationStore } from "./feeds/notifications";
import { createNotifier } from "./fanout/notify";
import { createFeedStore } from "./feeds/store";
import { createFanout } from "./fanout/fanout";
import { createDormancy } from "./feeds/dormancy";
import { createCatchUp } from "./fanout/inactive";
import { createLiveFeed } from "./feeds/live";
import { createKafka } from "./clients/kafka";
import { createPostgres } from "./clients/postgres";
import { createRedis, createRegistry } from "./clients/redis";
import { createUpkeep } from "./fanout/upkeep";

/** Builds every client once; main.ts and the tests share this wiring. */
export async function createServices(config: Config) {
  const sql = createPostgres(config.postgres);
  // Auto-pipelined: the commands of concurrent requests and fan-outs share writes to Redis.
  const redis = createRedis(config.redis, { scripts: { ...cacheScripts, ...objectScripts }, autoPipelining: true });
  const cassandra = createCassandra(config.cassandra);
  const kafka = createKafka(config.kafka);
  const kafkaAdmin = kafka.admin();
  const writes = createWriteStore({ sql, keys: config.idempotency });
  // No secret configured (tests, a worker-only process): a random one; main.ts decides whether an API may run so.
  const secrets = config.auth.secrets.length > 0 ? config.auth.secrets : [randomSecret()];
  const tokens = createTokens({ secrets, ttlSeconds: config.auth.ttlSeconds });
  const feedCache = createFeedCache({ redis, length: config.feed.length });
  const cachePages = createCachePages({ redis, length: config.feed.length, ttlSeconds: config.feed.cacheTtlSeconds });
  const accountPages = createCachePages({ redis, length: config.feed.length, ttlSeconds: config.feed.cacheTtlSeconds, kind: "account" });
  const metrics = createMetrics();
  const live = createLiveFeed({ redis, ...config.live, metrics });
  const feeds = createFeedStore({ cassandra, fanout: config.stream.fanout, rowForm: config.cassandra.rowForm });
  const objects = createObjectCache({ redis, load: feeds.objects, ttlSeconds: config.feed.cacheTtlSeconds });
  const notificationStore = createNotificationStore({ cassandra });
  const notifier = createNotifier({ store: notificationStore, live, windowMs: config.notifications.windowMs });
  const fanout = createFanout({ feeds, cache: feedCache, live, chunk: config.stream.fanout.chunk });
  const dormancy = createDormancy({ redis, windowMs: config.feed.inactiveMs });
  const catchUp = createCatchUp({ feeds, fanout, objects, notifier, feedLength: config.feed.length, hybrid: config.stream.hybrid, dormancy }, dormancy, metrics);
  const rates = createRateLimits({ redis, rates: config.rates });
  const upkeep = createUpkeep({ feeds, length: config.feed.length, metrics, concurrency: config.feed.upkeepConcurrency, marks: createRegistry(redis, "feed:upkept") });
  const lookUp = createLookUp(objects);
  const notifications = createNotificationReader({ store: notificationStore, lookUp, live });
  const reader = createFeedReader({ feeds, cache: cachePages, accounts: accountPages, length: config.feed.length, fill: config.feed.cacheFill, metrics, lookUp, enrich: createEnricher(lookUp), onRead: upkeep.read, inactive: { dormancy, catchUp } });
  const cursors = createCursors(secrets[0]!);

  const extraChecks: Record<string, () => Promise<void>> = {};
  const health = () =>
    checkHealth({
      postgres: () => probes.postgres(sql),
      redis: () => probes.redis(redis),
      kafka: () => probes.kafka(kafkaAdmin),
      registry: () => probes.registry(config.registry.ccompat),
      connect: () => probes.connect(config.connect.url, config.connect.connector),
      cassandra: () => probes.cassandra(cassandra),
      ...extraChecks,
    });
  /** The health anyone may see (public /healthz, the tRPC health query): cached 2 s, up/down only. */
  const publicHealthReport = publicHealth(health);
  /** Adds a component to the health report (the stream, when this process runs it). */
  const watch = (name: string, check: () => Promise<void>) => {
    extraChecks[name] = check;
  };

  async function close() {
    await Promise.allSettled([sql.end({ timeout: 5 }), live.close(), rates.close(), redis.quit(), cassandra.shutdown(), kafkaAdmin.disconnect()]);
  }

  return { config, sql, redis, cassandra, kafka, kafkaAdmin, writes, tokens, feedCache, cachePages, feeds, objects, notificationStore, notifications, notifier, fanout, dormancy, upkeep, reader, cursors, live, rates, metrics, health, publicHealth: publicHealthReport, watch, close };
}

export type Services = Awaited<ReturnType<typeof createServices>>;
