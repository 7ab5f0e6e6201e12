import cassandra from "cassandra-driver";
import type { Config } from "../config";

/** A Cassandra client; `keyspace: false` connects without one (for schema set-up). */
export function createCassandra(config: Config["cassandra"], options: { keyspace?: boolean } = {}) {
  return new cassandra.Client({
    contactPoints: [`${config.host}:${config.port}`],
    localDataCenter: config.localDataCenter,
    keyspace: options.keyspace === false ? undefined : config.keyspace,
    socketOptions: { connectTimeout: 5000, readTimeout: 12000 },
    // Fan-out runs many writes at once (partitions × users × statements): two connections give
    // 4,096 in-flight requests per node before the driver reports BusyConnectionError.
    pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 2, [cassandra.types.distance.remote]: 1 }, maxRequestsPerConnection: 2048 },
    queryOptions: { prepare: true, consistency: cassandra.types.consistencies.localQuorum },
  });
}

export type CassandraClient = ReturnType<typeof createCassandra>;
