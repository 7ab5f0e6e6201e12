import { capturedTables, signalTable } from "../../../src/names";
import { createPostgres } from "../../../src/clients/postgres";
import { withClient } from "../components/component";
import type { StackContext } from "../context";
import { StackError } from "../errors";
import { collection } from "./connector";

/**
 * Asks Debezium for an incremental snapshot of the given tables (all captured ones by default)
 * through its signalling table: every row is re-emitted as op=r while streaming goes on, and the
 * workers rebuild whatever derived state was lost. Returns the signal's id.
 */
export function requestSnapshot(ctx: StackContext, tables: readonly string[] = capturedTables) {
  const unknown = tables.filter((t) => !(capturedTables as readonly string[]).includes(t));
  if (unknown.length) throw new StackError(`not a captured table: ${unknown.join(", ")} (captured: ${capturedTables.join(", ")})`);
  const id = `snapshot-${crypto.randomUUID()}`;
  const data = JSON.stringify({ "data-collections": tables.map(collection), type: "incremental" });
  return withClient(
    () => createPostgres(ctx.config.postgres, { max: 1 }),
    (sql) => sql.end({ timeout: 1 }),
    async (sql) => {
      await sql`insert into ${sql(signalTable)} (id, type, data) values (${id}, 'execute-snapshot', ${data})`;
      return id;
    },
  );
}
