import type { Activity } from "./activity";

/**
 * The feed model, defined once: an item as feeds hold it, its position, and the item as a page
 * serves it (the wire type). The stores, the fan-out, the read path and the API all use these.
 */

/** An activity as a feed shows it: with its actor's handle. */
export type FeedItem = Activity & { actorHandle: string };

/** Where an item sits in a feed: its clustering key, and what cursors and live positions are made of. */
export type FeedKey = { createdAt: Date; id: string };

/** Feed order, for sorting: newer time first, then the larger id (as Cassandra clusters home_feed). */
export function feedOrder(a: FeedKey, b: FeedKey) {
  const d = b.createdAt.getTime() - a.createdAt.getTime();
  return d !== 0 ? d : a.id > b.id ? -1 : a.id < b.id ? 1 : 0;
}

/** A row as read back, with `ts`: its write time (µs, Cassandra's WRITETIME; see write-time.ts). */
export type Stored<T> = T & { ts: number };

/** The JSON a page serves for one item (and the cache holds): what a client renders, nothing to look up. */
export function toWireItem(item: FeedItem) {
  return {
    id: item.id,
    verb: item.verb,
    actor: { id: item.actorId, handle: item.actorHandle },
    object: item.object,
    postId: item.postId,
    excerpt: item.excerpt,
    createdAt: item.createdAt.toISOString(),
  };
}

export type WireItem = ReturnType<typeof toWireItem>;

/** Where a served item sits in its feed. */
export const positionOf = (item: WireItem): FeedKey => ({ createdAt: new Date(item.createdAt), id: item.id });
