import { z } from "zod";

/**
 * The one reader of the environment. Every setting has a default that runs the
 * local stack on ports that do not clash with a machine's own PostgreSQL (5432),
 * Redis (6379) or Kafka (9092). A bad value stops start-up naming the variable.
 */

const port = z.coerce.number().int().min(1).max(65535);
const host = z.string().min(1);
const positiveInt = z.coerce.number().int().min(1);

/** Signs tokens on development machines only: main.ts warns when it is in use. */
export const devTokenSecret = "feedline-development-secret-do-not-use-in-production";

/** Each entry: environment variable → [schema with default]. Names are the documented surface. */
const variables = {
  FEEDLINE_API_HOST: host.default("127.0.0.1"),
  FEEDLINE_API_PORT: port.default(3100),

  FEEDLINE_PG_HOST: host.default("127.0.0.1"),
  FEEDLINE_PG_PORT: port.default(55432),
  FEEDLINE_PG_USER: z.string().min(1).default("feedline"),
  FEEDLINE_PG_PASSWORD: z.string().default("feedline"),
  FEEDLINE_PG_DATABASE: z.string().min(1).default("feedline"),

  FEEDLINE_REDIS_HOST: host.default("127.0.0.1"),
  FEEDLINE_REDIS_PORT: port.default(56379),

  FEEDLINE_KAFKA_HOST: host.default("127.0.0.1"),
  FEEDLINE_KAFKA_PORT: port.default(59092),
  FEEDLINE_KAFKA_CONTROLLER_PORT: port.default(59093),
  FEEDLINE_TOPIC_PREFIX: z.string().regex(/^[a-z][a-z0-9_-]*$/).default("feedline"),
  FEEDLINE_TOPIC_PARTITIONS: positiveInt.default(6),
  FEEDLINE_TOPIC_REPLICATION: positiveInt.default(1),

  FEEDLINE_CONNECT_HOST: host.default("127.0.0.1"),
  FEEDLINE_CONNECT_PORT: port.default(58083),

  FEEDLINE_CASSANDRA_HOST: host.default("127.0.0.1"),
  FEEDLINE_CASSANDRA_PORT: port.default(59042),
  FEEDLINE_CASSANDRA_STORAGE_PORT: port.default(57000),
  FEEDLINE_CASSANDRA_JMX_PORT: port.default(57199),
  FEEDLINE_CASSANDRA_DC: z.string().min(1).default("datacenter1"),
  FEEDLINE_CASSANDRA_KEYSPACE: z.string().regex(/^[a-z][a-z0-9_]*$/).default("feedline"),
  FEEDLINE_CASSANDRA_REPLICATION: positiveInt.default(1),

  FEEDLINE_TOKEN_SECRET: z.string().min(32, "must be at least 32 characters").default(devTokenSecret),
  FEEDLINE_TOKEN_TTL_HOURS: positiveInt.default(24 * 30),

  FEEDLINE_FEED_LENGTH: z.coerce.number().int().min(500).default(500),
  FEEDLINE_CACHE_TTL_SECONDS: positiveInt.default(86_400),
  FEEDLINE_WORKER_CONCURRENCY: positiveInt.default(16),
  FEEDLINE_FANOUT_BATCH: positiveInt.max(1000).default(32),
  FEEDLINE_FANOUT_CONCURRENCY: positiveInt.default(4),
  FEEDLINE_STREAM_MAX_WAIT_MS: positiveInt.default(50),
  FEEDLINE_STREAM_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).default(10_000),
  FEEDLINE_STREAM_APPLY_DELAY_MS: z.coerce.number().int().min(0).default(0),

  FEEDLINE_STACK_DIR: z.string().min(1).default(".stack"),
  FEEDLINE_JAVA_HOME: z.string().optional(),
  FEEDLINE_KAFKA_HEAP: z.string().regex(/^\d+[mg]$/).default("512m"),
  FEEDLINE_CONNECT_HEAP: z.string().regex(/^\d+[mg]$/).default("512m"),
  FEEDLINE_CASSANDRA_HEAP: z.string().regex(/^\d+[mg]$/).default("1g"),
} as const;

export class ConfigError extends Error {
  constructor(readonly variable: string, detail: string) {
    super(`invalid configuration: ${variable} ${detail}`);
    this.name = "ConfigError";
  }
}

const envSchema = z.object(variables);

/** Parses the environment once; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env) {
  const picked = Object.fromEntries(
    Object.keys(variables).map((name) => [name, env[name] === "" ? undefined : env[name]]),
  );
  const parsed = envSchema.safeParse(picked);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0]);
    throw new ConfigError(variable, `(got ${JSON.stringify(env[variable])}): ${issue.message}`);
  }
  const e = parsed.data;
  return {
    api: { host: e.FEEDLINE_API_HOST, port: e.FEEDLINE_API_PORT },
    auth: { secret: e.FEEDLINE_TOKEN_SECRET, ttlSeconds: e.FEEDLINE_TOKEN_TTL_HOURS * 3600 },
    postgres: {
      host: e.FEEDLINE_PG_HOST,
      port: e.FEEDLINE_PG_PORT,
      user: e.FEEDLINE_PG_USER,
      password: e.FEEDLINE_PG_PASSWORD,
      database: e.FEEDLINE_PG_DATABASE,
    },
    redis: { host: e.FEEDLINE_REDIS_HOST, port: e.FEEDLINE_REDIS_PORT },
    kafka: {
      brokers: [`${e.FEEDLINE_KAFKA_HOST}:${e.FEEDLINE_KAFKA_PORT}`],
      host: e.FEEDLINE_KAFKA_HOST,
      port: e.FEEDLINE_KAFKA_PORT,
      controllerPort: e.FEEDLINE_KAFKA_CONTROLLER_PORT,
      topicPrefix: e.FEEDLINE_TOPIC_PREFIX,
      partitions: e.FEEDLINE_TOPIC_PARTITIONS,
      replicationFactor: e.FEEDLINE_TOPIC_REPLICATION,
    },
    connect: {
      url: `http://${e.FEEDLINE_CONNECT_HOST}:${e.FEEDLINE_CONNECT_PORT}`,
      host: e.FEEDLINE_CONNECT_HOST,
      port: e.FEEDLINE_CONNECT_PORT,
      connector: "feedline-postgres",
      /** The connector's `slot.name` (deploy/connectors/feedline-postgres.json). */
      slot: "feedline_debezium",
    },
    cassandra: {
      host: e.FEEDLINE_CASSANDRA_HOST,
      port: e.FEEDLINE_CASSANDRA_PORT,
      storagePort: e.FEEDLINE_CASSANDRA_STORAGE_PORT,
      jmxPort: e.FEEDLINE_CASSANDRA_JMX_PORT,
      localDataCenter: e.FEEDLINE_CASSANDRA_DC,
      keyspace: e.FEEDLINE_CASSANDRA_KEYSPACE,
      replicationFactor: e.FEEDLINE_CASSANDRA_REPLICATION,
    },
    feed: { length: e.FEEDLINE_FEED_LENGTH, cacheTtlSeconds: e.FEEDLINE_CACHE_TTL_SECONDS },
    stream: {
      concurrency: e.FEEDLINE_WORKER_CONCURRENCY,
      fanout: { batch: e.FEEDLINE_FANOUT_BATCH, concurrency: e.FEEDLINE_FANOUT_CONCURRENCY },
      maxWaitMs: e.FEEDLINE_STREAM_MAX_WAIT_MS,
      sessionTimeoutMs: e.FEEDLINE_STREAM_SESSION_TIMEOUT_MS,
      /** Fault injection only: how long the worker holds each batch before applying it. */
      applyDelayMs: e.FEEDLINE_STREAM_APPLY_DELAY_MS,
      eventsTopic: `${e.FEEDLINE_TOPIC_PREFIX}.events`,
      dlqTopic: `${e.FEEDLINE_TOPIC_PREFIX}.dlq`,
      routerGroup: `${e.FEEDLINE_TOPIC_PREFIX}-router`,
      feedsGroup: `${e.FEEDLINE_TOPIC_PREFIX}-feeds`,
    },
    stack: {
      dir: e.FEEDLINE_STACK_DIR,
      javaHome: e.FEEDLINE_JAVA_HOME,
      kafkaHeap: e.FEEDLINE_KAFKA_HEAP,
      connectHeap: e.FEEDLINE_CONNECT_HEAP,
      cassandraHeap: e.FEEDLINE_CASSANDRA_HEAP,
    },
  };
}

export type Config = ReturnType<typeof loadConfig>;
