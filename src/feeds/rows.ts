import type cassandra from "cassandra-driver";
import type { Activity } from "../model/activity";
import type { FeedItem, FeedKey, Stored } from "../model/feed";

/**
 * What the Cassandra feed tables hold, as the stores read it back: feed items and their
 * positions, each row's write time, read from the driver's rows.
 */

export const activityColumns = "created_at, activity_id, verb, object_type, object_id, object_author_id, post_id, excerpt, WRITETIME(verb) AS ts";
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
    object: { type: r.object_type, id: r.object_id, authorId: r.object_author_id ?? null },
    postId: r.post_id,
    excerpt: r.excerpt,
  };
}

/** A home_feed row read with `itemColumns`. */
export const toFeedItem = (r: cassandra.types.Row): Stored<FeedItem> => ({ ...toActivityRow(r, r.actor_id), actorHandle: r.actor_handle });
