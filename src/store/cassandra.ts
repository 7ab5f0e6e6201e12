import cassandra from "cassandra-driver";
import type { Config } from "../config";

/** A Cassandra client; `keyspace: false` connects without one (for schema set-up). */
export function createCassandra(config: Config["cassandra"], options: { keyspace?: boolean } = {}) {
  return new cassandra.Client({
    contactPoints: [`${config.host}:${config.port}`],
    localDataCenter: config.localDataCenter,
    keyspace: options.keyspace === false ? undefined : config.keyspace,
    socketOptions: { connectTimeout: 5000, readTimeout: 12000 },
    queryOptions: { prepare: true, consistency: cassandra.types.consistencies.localQuorum },
  });
}

export type CassandraClient = ReturnType<typeof createCassandra>;
