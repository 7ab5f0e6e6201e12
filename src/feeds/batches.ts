import type cassandra from "cassandra-driver";
import type { CassandraClient } from "../clients/cassandra";
import { inParallel } from "../parallel";

/** How the feed stores read and write many rows: page by page, in batches, one batch per replica. */

export type Statement = { query: string; params: unknown[] };

/** Every row a query returns, read page by page (5,000 at a time). */
export async function allRows<T>(db: CassandraClient, query: string, params: unknown[], map: (row: cassandra.types.Row) => T) {
  const out: T[] = [];
  let pageState: string | undefined;
  do {
    const rs = await db.execute(query, params, { fetchSize: 5000, pageState });
    for (const row of rs.rows) out.push(map(row));
    pageState = rs.pageState ?? undefined;
  } while (pageState);
  return out;
}

/** Single-partition unlogged batches of 100 statements, in order; `beforeBatch` runs before each. */
export async function inBatches<T>(db: CassandraClient, rows: T[], statement: (row: T) => Statement, beforeBatch?: () => void) {
  for (let i = 0; i < rows.length; i += 100) {
    beforeBatch?.();
    await db.batch(rows.slice(i, i + 100).map(statement), { logged: false });
  }
}

/**
 * One statement per user (or a few that share its partition key), sent as unlogged batches of rows that share a replica (token-aware:
 * each batch goes to a node that owns every partition in it, so the coordinator applies it
 * locally instead of forwarding). A batch is not atomic here and need not be: every row is an
 * idempotent upsert or delete, and the caller retries the whole fan-out on failure. Batching
 * cuts the per-request cost on both sides, which is what bounds fan-out on a small machine.
 */
export function createReplicaBatches(db: CassandraClient, opts: { batch: number; concurrency: number }) {
  return async function byReplica(userIds: string[], statement: (userId: string) => Statement | Statement[], beforeBatch?: () => void) {
    const groups = new Map<string, Statement[][]>();
    for (const u of userIds) {
      const replica = db.getReplicas(db.keyspace, Buffer.from(u))?.[0]?.address ?? "";
      let batches = groups.get(replica);
      if (!batches) groups.set(replica, (batches = [[]]));
      let last = batches.at(-1)!;
      if (last.length >= opts.batch) batches.push((last = []));
      last.push(...[statement(u)].flat());
    }
    await inParallel([...groups.values()].flat(), opts.concurrency, async (batch) => {
      beforeBatch?.();
      await (batch.length === 1 ? db.execute(batch[0]!.query, batch[0]!.params) : db.batch(batch, { logged: false }));
    });
  };
}

export type ByReplica = ReturnType<typeof createReplicaBatches>;
