import type cassandra from "cassandra-driver";
import type { Activity } from "../model/activity";
import { type FeedItem, type FeedKey, type Stored, type WireItem, toWireItem } from "../model/feed";

/**
 * What the Cassandra feed tables hold, as the stores read it back: feed items and their
 * positions, each row's write time, read from the driver's rows.
 */

export const activityColumns = "created_at, activity_id, verb, object_type, object_id, object_author_id, post_id, excerpt, WRITETIME(verb) AS ts";

/**
 * A home_feed row's columns: `item`, the whole item in one cell (migration 006), and the columns
 * that held its fields one by one before it, which rows written earlier still hold.
 */
export const itemColumns = `item, WRITETIME(item) AS item_ts, ${activityColumns}, actor_id, actor_handle`;

/** A home_feed row's write time, with `itemColumns` or any read that selects `item_ts` and `ts`: the later of its two forms'. */
export const feedRowTs = (r: cassandra.types.Row) => Math.max(r.item_ts ? micros(r.item_ts) : 0, r.ts ? micros(r.ts) : 0);

/** A feed item as home_feed's `item` cell holds it: the JSON pages serve before rendering. */
export const itemCell = (item: FeedItem) => JSON.stringify(toWireItem(item));

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
    object: { type: r.object_type, id: r.object_id, authorId: r.object_author_id ?? null },
    postId: r.post_id,
    excerpt: r.excerpt,
  };
}

/**
 * A home_feed row read with `itemColumns`: from its `item` cell, unless the row's separate columns
 * were written later (a process not yet upgraded wrote the row again), or it has none.
 */
export function toFeedItem(r: cassandra.types.Row): Stored<FeedItem> {
  const itemTs = r.item_ts ? micros(r.item_ts) : -1;
  if (r.item === null || r.item === undefined || (r.ts && micros(r.ts) > itemTs)) return { ...toActivityRow(r, r.actor_id), actorHandle: r.actor_handle };
  const w = JSON.parse(r.item) as WireItem;
  return {
    ts: itemTs,
    id: r.activity_id,
    verb: w.verb,
    actorId: w.actor.id,
    actorHandle: w.actor.handle,
    createdAt: r.created_at,
    object: { type: w.object.type, id: w.object.id, authorId: w.object.authorId ?? null },
    postId: w.postId,
    excerpt: w.excerpt,
  };
}
