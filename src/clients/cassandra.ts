import cassandra from "cassandra-driver";
import type { Config } from "../config";

/** A Cassandra client; `keyspace: false` connects without one (for schema set-up). */
export function createCassandra(config: Config["cassandra"], options: { keyspace?: boolean } = {}) {
  return new cassandra.Client({
    contactPoints: [`${config.host}:${config.port}`],
    localDataCenter: config.localDataCenter,
    keyspace: options.keyspace === false ? undefined : config.keyspace,
    socketOptions: { connectTimeout: 5000, readTimeout: 12000 },
    // The driver's default reconnection backs off to 10 minutes: after a long outage a node that
    // answers again stayed "down" for minutes. Retry at once, then at most every 4 s (±15% jitter).
    policies: { reconnection: new cassandra.policies.reconnection.ExponentialReconnectionPolicy(250, 4000, true) },
    // Fan-out runs many writes at once (partitions × users × statements): two connections give
    // 4,096 in-flight requests per node before the driver reports BusyConnectionError.
    // A heartbeat on idle connections every 5 s (default 30 s) finds a half-open socket quickly.
    pooling: {
      coreConnectionsPerHost: { [cassandra.types.distance.local]: 2, [cassandra.types.distance.remote]: 1 },
      maxRequestsPerConnection: 2048,
      heartBeatInterval: 5000,
    },
    // Every statement is prepared (the batches and the feed reads rely on it: typed bind values, no re-parsing).
    // Every statement is idempotent (reads, and writes at the event's own write time, which a
    // replay repeats): the driver may send one again on another node when its connection fails.
    queryOptions: { prepare: true, consistency: cassandra.types.consistencies.localQuorum, isIdempotent: true },
  });
}

export type CassandraClient = ReturnType<typeof createCassandra>;
