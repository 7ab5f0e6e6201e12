import { createTokens } from "./auth";
import type { Config } from "./config";
import { checkHealth, probes } from "./health";
import { createActivityStore } from "./store/activities";
import { createCassandra } from "./store/cassandra";
import { createKafka } from "./store/kafka";
import { createPostgres } from "./store/postgres";
import { createRedis } from "./store/redis";

/** Builds every client once; main.ts and the tests share this wiring. */
export async function createServices(config: Config) {
  const sql = createPostgres(config.postgres);
  const redis = createRedis(config.redis);
  const cassandra = createCassandra(config.cassandra);
  const kafkaAdmin = createKafka(config.kafka, "feedline-health").admin();
  const activities = createActivityStore({ sql });
  const tokens = createTokens(config.auth);

  const health = () =>
    checkHealth({
      postgres: () => probes.postgres(sql),
      redis: () => probes.redis(redis),
      kafka: () => probes.kafka(kafkaAdmin),
      connect: () => probes.connect(config.connect.url, config.connect.connector),
      cassandra: () => probes.cassandra(cassandra),
    });

  async function close() {
    await Promise.allSettled([sql.end({ timeout: 5 }), redis.quit(), cassandra.shutdown(), kafkaAdmin.disconnect()]);
  }

  return { sql, redis, cassandra, kafkaAdmin, activities, tokens, health, close };
}

export type Services = Awaited<ReturnType<typeof createServices>>;
