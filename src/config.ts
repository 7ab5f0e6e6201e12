import { z } from "zod";
import { kafkaNames } from "./names";

/**
 * The service's one reader of the environment (the stack tool's own settings, such as heaps and
 * its state directory, are read by deploy/stack/settings.ts with parseEnv below). Every setting
 * has a default that runs the local stack on ports that do not clash with a machine's own
 * PostgreSQL (5432), Redis (6379) or Kafka (9092). A bad value stops start-up naming the variable.
 */

/** A TCP port variable; deploy/stack/settings.ts uses it too. */
export const port = z.coerce.number().int().min(1).max(65535);
const host = z.string().min(1);
const positiveInt = z.coerce.number().int().min(1);

/** The development secret earlier versions published in this file: refused, since anyone can sign with it. */
const publishedSecret = "feedline-development-secret-do-not-use-in-production";
const secret = z
  .string()
  .min(32, "must be at least 32 characters")
  .refine((s) => s !== publishedSecret, "is the published development secret; generate one (openssl rand -base64 32)");

/** Each entry: environment variable → [schema with default]. Names are the documented surface. */
const variables = {
  FEEDLINE_API_HOST: host.default("127.0.0.1"),
  FEEDLINE_API_PORT: port.default(3100),
  FEEDLINE_ADMIN_HOST: host.default("127.0.0.1"),
  FEEDLINE_ADMIN_PORT: port.default(3101),
  FEEDLINE_API_MAX_BODY_BYTES: positiveInt.default(256 * 1024),
  FEEDLINE_API_MAX_BATCH: positiveInt.max(100).default(10),
  FEEDLINE_LIVE_MAX_PER_USER: positiveInt.default(5),
  FEEDLINE_LIVE_MAX_QUEUE: positiveInt.default(1000),
  FEEDLINE_LIVE_STALL_SECONDS: positiveInt.default(30),

  FEEDLINE_PG_HOST: host.default("127.0.0.1"),
  FEEDLINE_PG_PORT: port.default(25432),
  FEEDLINE_PG_USER: z.string().min(1).default("feedline"),
  FEEDLINE_PG_PASSWORD: z.string().default("feedline"),
  FEEDLINE_PG_DATABASE: z.string().min(1).default("feedline"),

  FEEDLINE_REDIS_HOST: host.default("127.0.0.1"),
  FEEDLINE_REDIS_PORT: port.default(26379),
  FEEDLINE_REDIS_CLUSTER_NODES: z.string().regex(/^(\s*[^:\s,]+:\d{1,5}\s*(,|$))*$/, "must be host:port,host:port,…").default("")
    .transform((v) => v.split(",").filter((n) => n.trim()).map((n) => ({ host: n.trim().split(":")[0]!, port: Number(n.trim().split(":")[1]) }))),
  FEEDLINE_REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9_.:-]*$/, "may hold letters, digits and _ . : - only").default(""),

  FEEDLINE_KAFKA_HOST: host.default("127.0.0.1"),
  FEEDLINE_KAFKA_PORT: port.default(29092),
  FEEDLINE_TOPIC_PREFIX: z.string().regex(/^[a-z][a-z0-9_-]*$/).default("feedline"),
  FEEDLINE_TOPIC_PARTITIONS: positiveInt.default(6),
  FEEDLINE_TOPIC_REPLICATION: positiveInt.default(1),

  FEEDLINE_CONNECT_HOST: host.default("127.0.0.1"),
  FEEDLINE_CONNECT_PORT: port.default(28083),
  FEEDLINE_REGISTRY_HOST: host.default("127.0.0.1"),
  FEEDLINE_REGISTRY_PORT: port.default(28081),

  FEEDLINE_CASSANDRA_HOST: host.default("127.0.0.1"),
  FEEDLINE_CASSANDRA_PORT: port.default(29042),
  FEEDLINE_CASSANDRA_DC: z.string().min(1).default("datacenter1"),
  FEEDLINE_CASSANDRA_KEYSPACE: z.string().regex(/^[a-z][a-z0-9_]*$/).default("feedline"),
  FEEDLINE_CASSANDRA_REPLICATION: positiveInt.default(1),
  FEEDLINE_CASSANDRA_ROW_FORM: z.enum(["cell", "columns"]).default("cell"), // how feed rows are written (`rowForm`, src/feeds/store.ts)

  FEEDLINE_TOKEN_SECRET: secret.optional(),
  FEEDLINE_TOKEN_PREVIOUS_SECRETS: z
    .string()
    .transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(secret))
    .default([]),
  FEEDLINE_TOKEN_TTL_HOURS: positiveInt.default(24 * 30),
  FEEDLINE_IDEMPOTENCY_TTL_HOURS: positiveInt.default(24),
  FEEDLINE_SIGNUP_KEY_TTL_SECONDS: positiveInt.default(600),

  FEEDLINE_RATE_SIGNUPS_PER_HOUR: positiveInt.default(20),
  FEEDLINE_RATE_WRITES_PER_MINUTE: positiveInt.default(120),
  FEEDLINE_RATE_FOLLOWS_PER_HOUR: positiveInt.default(300),
  FEEDLINE_RATE_READS_PER_MINUTE: positiveInt.default(1200),
  FEEDLINE_RATE_ANONYMOUS_READS_PER_MINUTE: positiveInt.default(600),
  FEEDLINE_TRUSTED_PROXIES: z.coerce.number().int().min(0).max(10).default(0),

  FEEDLINE_FEED_LENGTH: z.coerce.number().int().min(500).default(500),
  FEEDLINE_CACHE_TTL_SECONDS: positiveInt.default(86_400),
  FEEDLINE_INACTIVE_DAYS: z.coerce.number().positive().default(14),
  FEEDLINE_CACHE_FILL: z.coerce.number().int().min(20).default(50),
  FEEDLINE_UPKEEP_CONCURRENCY: positiveInt.default(2),
  FEEDLINE_NOTIFICATION_WINDOW_SECONDS: positiveInt.default(86_400),
  FEEDLINE_WORKER_CONCURRENCY: positiveInt.default(16),
  FEEDLINE_FANOUT_BATCH: positiveInt.max(1000).default(32),
  FEEDLINE_FANOUT_CONCURRENCY: positiveInt.default(4),
  FEEDLINE_FANOUT_CHUNK: positiveInt.default(1000),
  FEEDLINE_HYBRID_THRESHOLD: positiveInt.default(10_000),
  FEEDLINE_HYBRID_PUSH_BELOW: positiveInt.optional(),
  FEEDLINE_STREAM_MAX_WAIT_MS: positiveInt.default(500),
  FEEDLINE_STREAM_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).default(10_000),
  FEEDLINE_STREAM_APPLY_DELAY_MS: z.coerce.number().int().min(0).default(0),
  FEEDLINE_STREAM_ROUTE_DELAY_MS: z.coerce.number().int().min(0).default(0),

} as const;

export class ConfigError extends Error {
  constructor(readonly variable: string, detail: string) {
    super(`invalid configuration: ${variable} ${detail}`);
    this.name = "ConfigError";
  }
}

/** Parses `variables` from `env`, an empty value meaning the default; throws ConfigError naming the first bad variable. */
export function parseEnv<S extends z.ZodRawShape>(variables: S, env: Record<string, string | undefined>) {
  const picked = Object.fromEntries(Object.keys(variables).map((name) => [name, env[name] === "" ? undefined : env[name]]));
  const parsed = z.object(variables).safeParse(picked);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0]);
    throw new ConfigError(variable, `(got ${JSON.stringify(env[variable])}): ${issue.message}`);
  }
  return parsed.data;
}

/** Parses the environment once; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env) {
  const e = parseEnv(variables, env);
  const pushBelow = e.FEEDLINE_HYBRID_PUSH_BELOW ?? Math.max(1, Math.floor(e.FEEDLINE_HYBRID_THRESHOLD * 0.9));
  if (pushBelow > e.FEEDLINE_HYBRID_THRESHOLD) {
    throw new ConfigError("FEEDLINE_HYBRID_PUSH_BELOW", `(got ${pushBelow}): must not exceed FEEDLINE_HYBRID_THRESHOLD (${e.FEEDLINE_HYBRID_THRESHOLD})`);
  }
  const names = kafkaNames(e.FEEDLINE_TOPIC_PREFIX);
  return {
    api: { host: e.FEEDLINE_API_HOST, port: e.FEEDLINE_API_PORT, maxBodyBytes: e.FEEDLINE_API_MAX_BODY_BYTES, maxBatch: e.FEEDLINE_API_MAX_BATCH },
    /** The admin surface (detailed /healthz, /metrics): keep it on a private address. */
    admin: { host: e.FEEDLINE_ADMIN_HOST, port: e.FEEDLINE_ADMIN_PORT },
    /** Budgets per user (per client address for sign-ups and anonymous calls), shared by every API process through Redis. */
    rates: {
      signupsPerHour: e.FEEDLINE_RATE_SIGNUPS_PER_HOUR,
      writesPerMinute: e.FEEDLINE_RATE_WRITES_PER_MINUTE,
      followsPerHour: e.FEEDLINE_RATE_FOLLOWS_PER_HOUR,
      readsPerMinute: e.FEEDLINE_RATE_READS_PER_MINUTE,
      anonymousReadsPerMinute: e.FEEDLINE_RATE_ANONYMOUS_READS_PER_MINUTE,
    },
    /** How many reverse proxies in front of the API append to X-Forwarded-For (0: the socket's address is the client's). */
    trustedProxies: e.FEEDLINE_TRUSTED_PROXIES,
    /** Per user, across processes: open live streams; per stream: events buffered for a slow reader. */
    live: { maxPerUser: e.FEEDLINE_LIVE_MAX_PER_USER, maxQueue: e.FEEDLINE_LIVE_MAX_QUEUE, stallSeconds: e.FEEDLINE_LIVE_STALL_SECONDS },
    auth: {
      /** The signing secret first, then the previous ones still accepted; empty when none is set (see tokenSecrets). */
      secrets: e.FEEDLINE_TOKEN_SECRET ? [e.FEEDLINE_TOKEN_SECRET, ...e.FEEDLINE_TOKEN_PREVIOUS_SECRETS] : [],
      ttlSeconds: e.FEEDLINE_TOKEN_TTL_HOURS * 3600,
    },
    postgres: {
      host: e.FEEDLINE_PG_HOST,
      port: e.FEEDLINE_PG_PORT,
      user: e.FEEDLINE_PG_USER,
      password: e.FEEDLINE_PG_PASSWORD,
      database: e.FEEDLINE_PG_DATABASE,
    },
    /** `keyPrefix` goes before every key and pub/sub channel the service uses: several deployments (or test runs) can share one Redis. With `clusterNodes`, a Redis Cluster (host and port ignored). */
    redis: { host: e.FEEDLINE_REDIS_HOST, port: e.FEEDLINE_REDIS_PORT, clusterNodes: e.FEEDLINE_REDIS_CLUSTER_NODES, keyPrefix: e.FEEDLINE_REDIS_KEY_PREFIX },
    kafka: {
      brokers: [`${e.FEEDLINE_KAFKA_HOST}:${e.FEEDLINE_KAFKA_PORT}`],
      host: e.FEEDLINE_KAFKA_HOST,
      port: e.FEEDLINE_KAFKA_PORT,
      topicPrefix: e.FEEDLINE_TOPIC_PREFIX,
      partitions: e.FEEDLINE_TOPIC_PARTITIONS,
      replicationFactor: e.FEEDLINE_TOPIC_REPLICATION,
    },
    connect: {
      url: `http://${e.FEEDLINE_CONNECT_HOST}:${e.FEEDLINE_CONNECT_PORT}`,
      host: e.FEEDLINE_CONNECT_HOST,
      port: e.FEEDLINE_CONNECT_PORT,
      /** The Debezium connector's name, `slot.name` and `publication.name`, derived from the topic prefix like every Kafka name. */
      connector: names.connector,
      slot: names.slot,
      publication: names.publication,
    },
    /**
     * The schema registry (Apicurio) that Connect registers the change events' Avro schemas in. The
     * service reads them by id through its Confluent-compatible API (`ccompat`).
     */
    registry: {
      url: `http://${e.FEEDLINE_REGISTRY_HOST}:${e.FEEDLINE_REGISTRY_PORT}`,
      ccompat: `http://${e.FEEDLINE_REGISTRY_HOST}:${e.FEEDLINE_REGISTRY_PORT}/apis/ccompat/v7`,
      host: e.FEEDLINE_REGISTRY_HOST,
      port: e.FEEDLINE_REGISTRY_PORT,
    },
    cassandra: {
      host: e.FEEDLINE_CASSANDRA_HOST, port: e.FEEDLINE_CASSANDRA_PORT,
      localDataCenter: e.FEEDLINE_CASSANDRA_DC,
      keyspace: e.FEEDLINE_CASSANDRA_KEYSPACE,
      replicationFactor: e.FEEDLINE_CASSANDRA_REPLICATION,
      rowForm: e.FEEDLINE_CASSANDRA_ROW_FORM,
    },
    /** How long idempotency keys are honoured: a sign-up's briefly (a replay mints a token), others for a day. */
    idempotency: { signupSeconds: e.FEEDLINE_SIGNUP_KEY_TTL_SECONDS, otherSeconds: e.FEEDLINE_IDEMPOTENCY_TTL_HOURS * 3600 },
    /**
     * `cacheFill`: the newest items a cache miss loads into Redis (at most `length`); pages past them read Cassandra.
     * `upkeepConcurrency`: feeds whose daily trim runs at once in a process (src/fanout/upkeep.ts).
     */
    feed: {
      length: e.FEEDLINE_FEED_LENGTH,
      cacheTtlSeconds: e.FEEDLINE_CACHE_TTL_SECONDS,
      cacheFill: Math.min(e.FEEDLINE_CACHE_FILL, e.FEEDLINE_FEED_LENGTH),
      upkeepConcurrency: e.FEEDLINE_UPKEEP_CONCURRENCY,
      /** A user who has not read their feed for this long gets no fan-out writes until they read again (docs/stream.md, "Inactive users"). */
      inactiveMs: Math.round(e.FEEDLINE_INACTIVE_DAYS * 86_400_000),
    },
    /** Actions on one object (or follows of one user) within one window form one notification group. */
    notifications: { windowMs: e.FEEDLINE_NOTIFICATION_WINDOW_SECONDS * 1000 },
    stream: {
      concurrency: e.FEEDLINE_WORKER_CONCURRENCY,
      fanout: { batch: e.FEEDLINE_FANOUT_BATCH, concurrency: e.FEEDLINE_FANOUT_CONCURRENCY, chunk: e.FEEDLINE_FANOUT_CHUNK },
      /**
       * Hybrid fan-out (docs/stream.md, "Huge accounts"): an account with `threshold` followers or
       * more is pulled into its followers' pages at read time instead of pushed into their feeds;
       * it is pushed again once it has fewer than `pushBelow` (hysteresis: no flapping at the line).
       */
      hybrid: { threshold: e.FEEDLINE_HYBRID_THRESHOLD, pushBelow },
      maxWaitMs: e.FEEDLINE_STREAM_MAX_WAIT_MS,
      sessionTimeoutMs: e.FEEDLINE_STREAM_SESSION_TIMEOUT_MS,
      /** Fault injection only: how long the worker holds each batch before applying it. */
      applyDelayMs: e.FEEDLINE_STREAM_APPLY_DELAY_MS,
      /** Fault injection (the router's fencing test): how long the router holds each batch before producing it. */
      routeDelayMs: e.FEEDLINE_STREAM_ROUTE_DELAY_MS,
      eventsTopic: names.events,
      dlqTopic: names.dlq,
      routerGroup: names.routerGroup,
      feedsGroup: names.feedsGroup,
    },
  };
}

export type Config = ReturnType<typeof loadConfig>;

/** Whether a listen address is reachable from this machine only. */
export function isLoopback(host: string) {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The token secrets a process serving the API may run with: the configured ones. With none, an
 * API on a loopback address (a developer's machine) runs with `fallback`, a random secret whose
 * tokens die with the process; one on any other address refuses to start.
 */
export function tokenSecrets(config: Config, fallback: () => string): { secrets: string[]; generated: boolean } {
  if (config.auth.secrets.length > 0) return { secrets: config.auth.secrets, generated: false };
  if (!isLoopback(config.api.host)) {
    throw new ConfigError("FEEDLINE_TOKEN_SECRET", `is not set, and the API would listen on ${config.api.host}: set a secret of at least 32 characters (openssl rand -base64 32)`);
  }
  return { secrets: [fallback()], generated: true };
}
