import type { Sql } from "../clients/postgres";

/** The replication slot Debezium reads, as PostgreSQL sees it. */
export interface SlotState {
  active: boolean;
  /** The walsender holding the slot, and when its connection was opened (database clock). */
  pid: number | null;
  backendStart: Date | null;
  /** WAL the slot still pins: current position minus what the connector confirmed. */
  lagBytes: number;
  /** WAL the holder has not even been sent yet (it stops reading when its client stalls). */
  unsentBytes: number | null;
  sentLsn: string | null;
  /** The database's clock when this was read. */
  dbNow: Date;
}

/**
 * Reads the slot's state in one query. Needs the right to see other sessions' replication
 * statistics (the walsender's own role, or pg_read_all_stats) — docs/operations.md.
 */
export async function readSlot(sql: Sql, slot: string): Promise<SlotState | undefined> {
  const [row] = await sql`
    select s.active, s.active_pid, a.backend_start,
           pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::float8 as lag,
           r.sent_lsn::text as sent_lsn, pg_wal_lsn_diff(pg_current_wal_lsn(), r.sent_lsn)::float8 as unsent,
           now() as db_now
    from pg_replication_slots s
    left join pg_stat_replication r on r.pid = s.active_pid
    left join pg_stat_activity a on a.pid = s.active_pid
    where s.slot_name = ${slot}`;
  if (!row) return undefined;
  return {
    active: Boolean(row.active),
    pid: row.active_pid === null ? null : Number(row.active_pid),
    backendStart: (row.backend_start as Date | null) ?? null,
    lagBytes: Math.max(0, Number(row.lag ?? 0)),
    unsentBytes: row.unsent === null ? null : Math.max(0, Number(row.unsent)),
    sentLsn: (row.sent_lsn as string | null) ?? null,
    dbNow: row.db_now as Date,
  };
}

/** Ends one walsender: the only thing that frees a slot whose client is gone but whose connection is not. */
export async function terminateBackend(sql: Sql, pid: number) {
  const [row] = await sql`select pg_terminate_backend(${pid}) as done`;
  return Boolean(row?.done);
}
