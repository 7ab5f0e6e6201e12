import type cassandra from "cassandra-driver";
import type { Activity } from "../stream/activities";
import type { CassandraClient } from "./cassandra";

/**
 * What the Cassandra feed tables hold, as the stores read it back: feed items and their
 * positions, each row's write time, and the helpers the stores share.
 */

/** An activity as a feed shows it: with its actor's handle. */
export type FeedItem = Activity & { actorHandle: string };

/** Where an item sits in a feed: its clustering key. */
export type FeedKey = { createdAt: Date; id: string };

/** Feed order, for sorting: newer time first, then the larger id (as Cassandra clusters home_feed). */
export function feedOrder(a: FeedKey, b: FeedKey) {
  const d = b.createdAt.getTime() - a.createdAt.getTime();
  return d !== 0 ? d : a.id > b.id ? -1 : a.id < b.id ? 1 : 0;
}

/** A row as read back, with `ts`: its write time (µs, Cassandra's WRITETIME of the row's columns). */
export type Stored<T> = T & { ts: number };

export const activityColumns = "created_at, activity_id, verb, object_type, object_id, post_id, excerpt, WRITETIME(verb) AS ts";
export const itemColumns = `${activityColumns}, actor_id, actor_handle`;

/** A write time as the driver returns it (a bigint, as a Long), as a number. */
export const micros = (value: unknown) => (value as cassandra.types.Long).toNumber();

export const keyOf = (r: cassandra.types.Row): FeedKey => ({ createdAt: r.created_at, id: r.activity_id });

export function toActivityRow(r: cassandra.types.Row, actorId: string): Stored<Activity> {
  return {
    ts: micros(r.ts),
    id: r.activity_id,
    verb: r.verb,
    actorId,
    createdAt: r.created_at,
    object: { type: r.object_type, id: r.object_id },
    postId: r.post_id,
    excerpt: r.excerpt,
  };
}

/** A home_feed row read with `itemColumns`. */
export const toFeedItem = (r: cassandra.types.Row): Stored<FeedItem> => ({ ...toActivityRow(r, r.actor_id), actorHandle: r.actor_handle });

/** Every row a query returns, read page by page (5,000 at a time). */
export async function allRows<T>(db: CassandraClient, query: string, params: unknown[], map: (row: cassandra.types.Row) => T) {
  const out: T[] = [];
  let pageState: string | undefined;
  do {
    const rs = await db.execute(query, params, { prepare: true, fetchSize: 5000, pageState });
    for (const row of rs.rows) out.push(map(row));
    pageState = rs.pageState ?? undefined;
  } while (pageState);
  return out;
}

/** Single-partition unlogged batches of 100 statements, in order; `beforeBatch` runs before each. */
export async function inBatches<T>(db: CassandraClient, rows: T[], statement: (row: T) => { query: string; params: unknown[] }, beforeBatch?: () => void) {
  for (let i = 0; i < rows.length; i += 100) {
    beforeBatch?.();
    await db.batch(rows.slice(i, i + 100).map(statement), { prepare: true, logged: false });
  }
}
