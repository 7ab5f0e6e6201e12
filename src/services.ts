import { createTokens } from "./auth";
import type { Config } from "./config";
import { checkHealth, probes } from "./health";
import { createMetrics } from "./metrics";
import { createCursors } from "./cursor";
import { createActivityStore } from "./store/activities";
import { createCassandra } from "./store/cassandra";
import { createFeedCache } from "./store/feed-cache";
import { createFeedReader } from "./store/feed-reader";
import { createFeedStore } from "./store/feeds";
import { createLiveFeed } from "./store/live";
import { createKafka } from "./store/kafka";
import { createPostgres } from "./store/postgres";
import { createRedis } from "./store/redis";
import { createUpkeep } from "./stream/upkeep";

/** Builds every client once; main.ts and the tests share this wiring. */
export async function createServices(config: Config) {
  const sql = createPostgres(config.postgres);
  const redis = createRedis(config.redis);
  const cassandra = createCassandra(config.cassandra);
  const kafka = createKafka(config.kafka);
  const kafkaAdmin = kafka.admin();
  const activities = createActivityStore({ sql });
  const tokens = createTokens(config.auth);
  const feedCache = createFeedCache({ redis, length: config.feed.length, ttlSeconds: config.feed.cacheTtlSeconds });
  const live = createLiveFeed({ redis });
  const feeds = createFeedStore({ cassandra, cache: feedCache, live, fanout: config.stream.fanout });
  const metrics = createMetrics();
  const upkeep = createUpkeep({ feeds, length: config.feed.length, metrics });
  const reader = createFeedReader({ feeds, cache: feedCache, length: config.feed.length, metrics, onRead: upkeep.read });
  const cursors = createCursors(config.auth.secret);

  const extraChecks: Record<string, () => Promise<void>> = {};
  const health = () =>
    checkHealth({
      postgres: () => probes.postgres(sql),
      redis: () => probes.redis(redis),
      kafka: () => probes.kafka(kafkaAdmin),
      connect: () => probes.connect(config.connect.url, config.connect.connector),
      cassandra: () => probes.cassandra(cassandra),
      ...extraChecks,
    });
  /** Adds a component to the health report (the stream, when this process runs it). */
  const watch = (name: string, check: () => Promise<void>) => {
    extraChecks[name] = check;
  };

  async function close() {
    await Promise.allSettled([sql.end({ timeout: 5 }), live.close(), redis.quit(), cassandra.shutdown(), kafkaAdmin.disconnect()]);
  }

  return { config, sql, redis, cassandra, kafka, kafkaAdmin, activities, tokens, feedCache, feeds, upkeep, reader, cursors, live, metrics, health, watch, close };
}

export type Services = Awaited<ReturnType<typeof createServices>>;
