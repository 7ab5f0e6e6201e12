import postgres from "postgres";
import type { Config } from "../config";

/** The PostgreSQL client: a small pool, all SQL through tagged templates. */
export function createPostgres(config: Config["postgres"], options: { max?: number } = {}) {
  return postgres({
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
    database: config.database,
    max: options.max ?? 10,
    // A connection that does not complete in 10 s fails the request as UNAVAILABLE (retry) rather
    // than holding it for the client's default 30 s.
    connect_timeout: 10,
    onnotice: () => {},
  });
}

export type Sql = ReturnType<typeof createPostgres>;
export type Tx = postgres.TransactionSql<Record<string, never>>;
