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

/**
 * The JSON the cache holds for one item, and that live events carry: the item with its object by
 * id. A page serves it rendered (`render`), with what the client shows of the object.
 */
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

/**
 * An item as the cache takes it (the triples of cache-keys.ts): where it sits, its write time, and
 * its wire form as the JSON the cache stores, and as an object where one was at hand (`wireOf`).
 * A home_feed row in one cell holds that JSON already (rows.ts), and is parsed only for the items
 * a page shows, not for the rest a rebuild loads; anything else is made with `cachedItemOf`.
 */
export type CachedItem = FeedKey & { ts: number; json: string; wire?: WireItem };

/** The item's wire form, as an object. */
export const wireOf = (item: CachedItem): WireItem => item.wire ?? (JSON.parse(item.json) as WireItem);

/** An item built in the process (a fan-out's, a pulled account's, a row in the separate columns) as the cache takes it. */
export function cachedItemOf(item: Stored<FeedItem>): CachedItem {
  const wire = toWireItem(item);
  return { createdAt: item.createdAt, id: item.id, ts: item.ts, wire, json: JSON.stringify(wire) };
}

/** Where a served item sits in its feed. */
export const positionOf = (item: Pick<WireItem, "createdAt" | "id">): FeedKey => ({ createdAt: new Date(item.createdAt), id: item.id });

/** What a page shows of a post another user's item is about (src/feeds/objects.ts). */
export type PostObject = { authorId: string; excerpt: string };
/** What a page shows of a user an item is about. */
export type UserObject = { handle: string; displayName: string | null };
export type ObjectRef = { type: "post"; id: string } | { type: "user"; id: string };
/** An object's name among the objects looked up for a page: `post:<id>`, `user:<id>`. */
export const refKey = (ref: ObjectRef) => `${ref.type}:${ref.id}`;

/**
 * An item as a page serves it: its object rendered. A field is null only while the object is not
 * known to the feeds yet (its own event not yet applied) or already gone (a deleted post whose
 * likes are still leaving feeds): the pipeline catching up, never for good.
 */
export type PostView = { type: "post"; id: string; authorId: string | null; authorHandle: string | null; excerpt: string | null };
export type UserView = { type: "user"; id: string; handle: string | null; displayName: string | null };
export type Item = Omit<WireItem, "object"> & { object: PostView | UserView };

/**
 * The objects an item needs looked up to render: a LIKE's or COMMENT's post and the post's author,
 * a FOLLOW's followee. A SHARD carries all it shows (its post is its own, its author its actor).
 */
export const refsOf = (item: WireItem): ObjectRef[] => (item.verb === "SHARD" ? [] : objectRefs(item.object));

/** What rendering an object takes: a user, or a post and (when known) its author. */
export function objectRefs(o: WireItem["object"]): ObjectRef[] {
  if (o.type === "user") return [{ type: "user", id: o.id }];
  return o.authorId ? [{ type: "post", id: o.id }, { type: "user", id: o.authorId }] : [{ type: "post", id: o.id }];
}

/** The objects looked up, by `refKey`. */
export type Looked = Map<string, PostObject | UserObject | null>;

/** An item rendered with the objects looked up for it (`refsOf`, and a post's author where the item lacked it). */
export function render(item: WireItem, looked: Looked): Item {
  const o = item.object;
  if (item.verb === "SHARD") {
    return { ...item, object: { type: "post", id: o.id, authorId: item.actor.id, authorHandle: item.actor.handle, excerpt: item.excerpt } };
  }
  return { ...item, object: viewOf(o, looked) };
}

/** A post or user as a page shows it, from the objects looked up (a post's author from the post when `authorId` is null). */
export function viewOf(o: { type: "post" | "user"; id: string; authorId: string | null }, looked: Looked): PostView | UserView {
  if (o.type === "user") {
    const user = looked.get(refKey({ type: "user", id: o.id })) as UserObject | null | undefined;
    return { type: "user", id: o.id, handle: user?.handle ?? null, displayName: user?.displayName ?? null };
  }
  const post = looked.get(refKey({ type: "post", id: o.id })) as PostObject | null | undefined;
  const authorId = o.authorId ?? post?.authorId ?? null;
  const author = authorId ? (looked.get(refKey({ type: "user", id: authorId })) as UserObject | null | undefined) : undefined;
  return { type: "post", id: o.id, authorId, authorHandle: author?.handle ?? null, excerpt: post?.excerpt ?? null };
}
