import type cassandra from "cassandra-driver";
import type { CassandraClient } from "../clients/cassandra";
import type { Activity } from "../model/activity";
import { type CachedItem, type FeedItem, type FeedKey, type Stored, type WireItem, cachedItemOf, toWireItem } from "../model/feed";

/**
 * What the Cassandra feed tables hold, as the stores read it back: feed items and their
 * positions, each row's write time, read from the driver's rows.
 */

/**
 * A row's fields. Since migrations 006 and 007, home_feed and activities_by_actor rows hold them in
 * one cell, `item` (Cassandra's work per row, and the driver's, grows with the row's cells); the
 * columns that held them one by one stay for rows written before, or by a process not yet
 * upgraded. A row is read in the form written last.
 */
const fieldColumns = "created_at, activity_id, verb, object_type, object_id, object_author_id, post_id, excerpt, WRITETIME(verb) AS ts";

/** An activities_by_actor row's columns: both forms, with their write times. */
export const activityColumns = `item, WRITETIME(item) AS item_ts, ${fieldColumns}`;

/** A home_feed row's columns: both forms, with their write times (the actor's columns are the separate form's). */
export const itemColumns = `${activityColumns}, actor_id, actor_handle`;

/** A row's write time, from any read that selects `item_ts` and `ts`: the later of its two forms'. */
export const rowTs = (r: cassandra.types.Row) => Math.max(r.item_ts ? micros(r.item_ts) : 0, r.ts ? micros(r.ts) : 0);

/** What activities_by_actor's `item` cell holds: the activity's fields but its keys and actor. */
type ActivityCell = Pick<Activity, "verb" | "object" | "postId" | "excerpt">;

/** An activity as activities_by_actor's `item` cell holds it. */
export const activityCell = (a: Activity) => JSON.stringify({ verb: a.verb, object: a.object, postId: a.postId, excerpt: a.excerpt } satisfies ActivityCell);

/**
 * A feed item as home_feed's `item` cell holds it: the JSON pages serve before rendering, as the
 * Redis cache holds it (its verb, object, postId and excerpt where an activity's cell has them).
 */
export const itemCell = (item: FeedItem) => JSON.stringify(toWireItem(item));

/**
 * A row's columns read in one cell alone, with the separate form's write time: whether that form
 * was written later (`needsColumns`) is all a row in one cell needs of it.
 */
const cellColumns = "item, WRITETIME(item) AS item_ts, created_at, activity_id, WRITETIME(verb) AS ts";

/** Whether a row must be read in the separate columns: it has no cell, or they were written later. */
const needsColumns = (r: cassandra.types.Row) => r.item === null || r.item === undefined || (r.ts !== null && r.ts !== undefined && micros(r.ts) > micros(r.item_ts));

/** The row's `item` cell, parsed, when that is the form written last; undefined when it is the separate columns'. */
function cellOf<C>(r: cassandra.types.Row): { cell: C; ts: number } | undefined {
  if (needsColumns(r)) return undefined;
  return { cell: JSON.parse(r.item) as C, ts: micros(r.item_ts) };
}

/**
 * Reads the newest rows of one partition of home_feed or activities_by_actor (`key`: its
 * partition key), from the start or after a position. First in one cell alone: the form every row
 * this build wrote has, for about 30% less work in the driver than both forms and 10% less in
 * Cassandra (51 rows, measured). Read again with both forms (`both`) only when some row needs them
 * (written before migrations 006 and 007, or in the separate columns later), and those rows are
 * then written again in one cell (`rewrite`, behind the read) at the write time of their columns:
 * the same item, so the page's next read is one read. Nothing written later is undone (its write
 * time is later), and a row deleted at that time stays deleted (a tombstone wins a tie). With
 * `inColumns` (the rolling upgrade's `columns` row form, when most rows are in them) a page is
 * read in both forms at once, and nothing is rewritten.
 */
export function createPageRows(
  db: CassandraClient,
  table: "home_feed" | "activities_by_actor",
  key: string,
  both: string,
  inColumns: boolean,
  rewrite: (id: string, rows: cassandra.types.Row[]) => Promise<unknown>,
) {
  const select = (columns: string) => ({
    first: `SELECT ${columns} FROM ${table} WHERE ${key} = ? LIMIT ?`,
    after: `SELECT ${columns} FROM ${table} WHERE ${key} = ? AND (created_at, activity_id) < (?, ?) LIMIT ?`,
  });
  const [cells, full] = [select(cellColumns), select(both)];
  return async (id: string, limit: number, after?: FeedKey) => {
    const [which, params] = after ? (["after", [id, after.createdAt, after.id, limit]] as const) : (["first", [id, limit]] as const);
    const options = { fetchSize: Math.min(limit, 5000), autoPage: true };
    if (inColumns) return (await db.execute(full[which], params, options)).rows;
    const rows = (await db.execute(cells[which], params, options)).rows;
    if (!rows.some(needsColumns)) return rows;
    const read = (await db.execute(full[which], params, options)).rows;
    const old = read.filter(needsColumns);
    if (old.length > 0) rewrite(id, old).catch((err) => console.warn(`[feed] writing ${old.length} rows of ${table} ${id} in one cell: ${err instanceof Error ? err.message : err}`));
    return read;
  };
}

/** A write time as the driver returns it (a bigint, as a Long), as a number. */
export const micros = (value: unknown) => (value as cassandra.types.Long).toNumber();

export const keyOf = (r: cassandra.types.Row): FeedKey => ({ createdAt: r.created_at, id: r.activity_id });

/** A row's activity from its fields, in either form (`authorId` is null where the row has none). */
const activityOf = (r: cassandra.types.Row, ts: number, f: ActivityCell, actorId: string): Stored<Activity> => ({
  ts,
  id: r.activity_id,
  verb: f.verb,
  actorId,
  createdAt: r.created_at,
  object: { type: f.object.type, id: f.object.id, authorId: f.object.authorId ?? null },
  postId: f.postId,
  excerpt: f.excerpt,
});

/** A row's fields as the separate columns hold them. */
const columnsOf = (r: cassandra.types.Row): ActivityCell => ({
  verb: r.verb,
  object: { type: r.object_type, id: r.object_id, authorId: r.object_author_id },
  postId: r.post_id,
  excerpt: r.excerpt,
});

/** An activities_by_actor row read with `activityColumns`. */
export function toActivityRow(r: cassandra.types.Row, actorId: string): Stored<Activity> {
  const read = cellOf<ActivityCell>(r);
  return read ? activityOf(r, read.ts, read.cell, actorId) : activityOf(r, micros(r.ts), columnsOf(r), actorId);
}

/** A home_feed row read with `itemColumns`: its cell holds the actor too, the separate form has its own columns. */
export function toFeedItem(r: cassandra.types.Row): Stored<FeedItem> {
  const read = cellOf<WireItem>(r);
  if (!read) return { ...activityOf(r, micros(r.ts), columnsOf(r), r.actor_id), actorHandle: r.actor_handle };
  return { ...activityOf(r, read.ts, read.cell, read.cell.actor.id), actorHandle: read.cell.actor.handle };
}

/**
 * A home_feed row read with `itemColumns`, as the cache takes it: a one-cell row's text is the
 * cache's JSON as it stands (`itemCell` wrote it), not made again from the parsed item.
 */
export function toCachedItem(r: cassandra.types.Row): CachedItem {
  if (needsColumns(r)) return cachedItemOf(toFeedItem(r));
  return { createdAt: r.created_at, id: r.activity_id, ts: micros(r.item_ts), json: r.item };
}
