import { readSlot, type SlotState } from "../../../src/capture/slot";
import { createPostgres } from "../../../src/clients/postgres";
import { withClient } from "../components/component";
import type { StackContext } from "../context";
import { StackError } from "../errors";
import { note } from "../progress";
import { sleep } from "../proc";

/** The connector's replication slot: its state for `status` and the wait for streaming, and its drop on `down`. */

/** The replication slot as PostgreSQL sees it. */
export function slotState(ctx: StackContext): Promise<SlotState | undefined> {
  return withClient(
    () => createPostgres(ctx.config.postgres, { max: 1 }),
    (sql) => sql.end({ timeout: 1 }),
    (sql) => readSlot(sql, ctx.config.connect.slot),
  );
}

/**
 * Drops the replication slot the connector made: a slot nobody reads pins WAL forever. Slots
 * belong to the cluster, so any database reaches it: `database` when the configured one may be
 * gone already (a test namespace's, deploy/stack/namespace.ts).
 */
export function dropReplicationSlot(ctx: StackContext, database = ctx.config.postgres.database) {
  const slot = ctx.config.connect.slot;
  return withClient(
    () => createPostgres({ ...ctx.config.postgres, database }, { max: 1 }),
    (sql) => sql.end({ timeout: 1 }),
    async (sql) => {
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        const [row] = await sql`select active from pg_replication_slots where slot_name = ${slot}`;
        if (!row) return false;
        if (!row.active) {
          await sql`select pg_drop_replication_slot(${slot})`;
          note(`dropped replication slot ${slot}`);
          return true;
        }
        await sleep(500);
      }
      throw new StackError(`replication slot ${slot} is still in use after Connect stopped; drop it with pg_drop_replication_slot`);
    },
  );
}
