import type { StackContext } from "../context";
import { registerConnector } from "./connector";
import { migrateCassandra, migratePostgres } from "./migrations";
import { ensureTopics } from "./topics";

/**
 * The set-up each component needs once it answers, keyed by component and run in the stack's
 * start order: `up` runs each right after starting its component, `setup` runs them all on a
 * stack something else started (docker-compose.yml). Every step is repeatable.
 */
export function setupSteps(ctx: StackContext): Record<string, { label: string; run: () => Promise<unknown> }> {
  return {
    postgres: { label: "PostgreSQL migrations", run: () => migratePostgres(ctx) },
    kafka: { label: "Kafka topics", run: () => ensureTopics(ctx) },
    connect: { label: "Debezium connector", run: () => registerConnector(ctx) },
    cassandra: { label: "Cassandra keyspace and tables", run: () => migrateCassandra(ctx) },
  };
}
