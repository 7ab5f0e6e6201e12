import cassandra from "cassandra-driver";
import { inParallel } from "../parallel";
import type { Activity } from "../stream/activities";
import type { CassandraClient } from "./cassandra";
import { type FeedCache, toCached } from "./feed-cache";
import type { LiveFeed } from "./live";

/** An activity as a feed shows it: with its actor's handle. */
export type FeedItem = Activity & { actorHandle: string };

/** Where an item sits in a feed: its clustering key. */
export type FeedKey = { createdAt: Date; id: string };

/**
 * The stream workers' store: the state they derive from the change stream (users, followers,
 * each user's activities) and the feeds they write, in Cassandra with the Redis cache in front.
 * Every write is an upsert or a delete by a deterministic key, so replaying is harmless.
 */
export function createFeedStore(deps: {
  cassandra: CassandraClient;
  cache: FeedCache;
  live: LiveFeed;
  ttlSeconds: number;
  /** Rows per fan-out batch and batches in flight per fan-out. */
  fanout: { batch: number; concurrency: number };
}) {
  const { cassandra: db, cache, live, ttlSeconds } = deps;
  const keyspace = db.keyspace;
  const { fanout } = deps;
  const q = {
    getUser: "SELECT handle, display_name FROM users WHERE user_id = ?",
    putUser: "INSERT INTO users (user_id, handle, display_name) VALUES (?, ?, ?)",
    deleteUser: "DELETE FROM users WHERE user_id = ?",
    addFollower: "INSERT INTO followers (user_id, follower_id) VALUES (?, ?)",
    removeFollower: "DELETE FROM followers WHERE user_id = ? AND follower_id = ?",
    followers: "SELECT follower_id FROM followers WHERE user_id = ?",
    putActivity:
      "INSERT INTO activities_by_actor (actor_id, created_at, activity_id, verb, object_type, object_id, post_id, excerpt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    deleteActivity: "DELETE FROM activities_by_actor WHERE actor_id = ? AND created_at = ? AND activity_id = ?",
    activitiesOf: "SELECT created_at, activity_id, verb, object_type, object_id, post_id, excerpt FROM activities_by_actor WHERE actor_id = ? LIMIT ?",
    activityKeysOf: "SELECT created_at, activity_id FROM activities_by_actor WHERE actor_id = ?",
    writeItem: `INSERT INTO home_feed (user_id, created_at, activity_id, verb, actor_id, actor_handle, object_type, object_id, post_id, excerpt)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ${ttlSeconds}`,
    removeItem: "DELETE FROM home_feed WHERE user_id = ? AND created_at = ? AND activity_id = ?",
    feed: "SELECT created_at, activity_id, verb, actor_id, actor_handle, object_type, object_id, post_id, excerpt FROM home_feed WHERE user_id = ? LIMIT ?",
    feedAfter:
      "SELECT created_at, activity_id, verb, actor_id, actor_handle, object_type, object_id, post_id, excerpt FROM home_feed WHERE user_id = ? AND (created_at, activity_id) < (?, ?) LIMIT ?",
    activitiesAfter:
      "SELECT created_at, activity_id, verb, object_type, object_id, post_id, excerpt FROM activities_by_actor WHERE actor_id = ? AND (created_at, activity_id) < (?, ?) LIMIT ?",
    activitiesFirst: "SELECT created_at, activity_id, verb, object_type, object_id, post_id, excerpt FROM activities_by_actor WHERE actor_id = ? LIMIT ?",
  };
  const itemParams = (userId: string, i: FeedItem) => [
    userId, i.createdAt, i.id, i.verb, i.actorId, i.actorHandle, i.object.type, i.object.id, i.postId, i.excerpt,
  ];
  const prepare = { prepare: true };
  /** Every row a query returns, read page by page (5,000 at a time). */
  async function allRows<T>(query: string, params: unknown[], map: (row: cassandra.types.Row) => T) {
    const out: T[] = [];
    let pageState: string | undefined;
    do {
      const rs = await db.execute(query, params, { prepare: true, fetchSize: 5000, pageState });
      for (const row of rs.rows) out.push(map(row));
      pageState = rs.pageState ?? undefined;
    } while (pageState);
    return out;
  }

  /**
   * One statement per user, sent as unlogged batches of rows that share a replica (token-aware:
   * each batch goes to a node that owns every partition in it, so the coordinator applies it
   * locally instead of forwarding). A batch is not atomic here and need not be: every row is an
   * idempotent upsert or delete, and the caller retries the whole fan-out on failure. Batching
   * cuts the per-request cost on both sides, which is what bounds fan-out on a small machine.
   */
  async function fanOut(userIds: string[], statement: (userId: string) => { query: string; params: unknown[] }) {
    const groups = new Map<string, { query: string; params: unknown[] }[][]>();
    for (const u of userIds) {
      const replica = db.getReplicas(keyspace, Buffer.from(u))?.[0]?.address ?? "";
      let batches = groups.get(replica);
      if (!batches) groups.set(replica, (batches = [[]]));
      let last = batches.at(-1)!;
      if (last.length >= fanout.batch) batches.push((last = []));
      last.push(statement(u));
    }
    await inParallel([...groups.values()].flat(), fanout.concurrency, async (batch) => {
      await (batch.length === 1 ? db.execute(batch[0]!.query, batch[0]!.params, prepare) : db.batch(batch, { prepare: true, logged: false }));
    });
  }

  return {
    async getUser(userId: string) {
      const row = (await db.execute(q.getUser, [userId], prepare)).first();
      return row ? { handle: row.handle as string, displayName: row.display_name as string | null } : null;
    },
    putUser: (u: { id: string; handle: string; displayName: string | null }) => db.execute(q.putUser, [u.id, u.handle, u.displayName], prepare),
    deleteUser: (userId: string) => db.execute(q.deleteUser, [userId], prepare),

    addFollower: (userId: string, followerId: string) => db.execute(q.addFollower, [userId, followerId], prepare),
    removeFollower: (userId: string, followerId: string) => db.execute(q.removeFollower, [userId, followerId], prepare),
    /** Everyone following the user now. */
    followers: (userId: string) => allRows(q.followers, [userId], (row) => row.follower_id as string),

    putActivity: (a: Activity) =>
      db.execute(q.putActivity, [a.actorId, a.createdAt, a.id, a.verb, a.object.type, a.object.id, a.postId, a.excerpt], prepare),
    deleteActivity: (a: FeedKey & { actorId: string }) => db.execute(q.deleteActivity, [a.actorId, a.createdAt, a.id], prepare),
    /**
     * A user's newest `limit` activities, however old: retention is by length, so a quiet
     * account's year-old post is still among its newest (FEED-SPEC).
     */
    async activitiesOf(actorId: string, limit: number): Promise<Activity[]> {
      const rs = await db.execute(q.activitiesOf, [actorId, limit], { prepare: true, fetchSize: Math.min(limit, 5000), autoPage: true });
      return rs.rows.map((r) => toActivityRow(r, actorId));
    },
    /** The keys of every activity of a user, however many and however old (what an unfollow removes). */
    activityKeysOf: (actorId: string) => allRows(q.activityKeysOf, [actorId], (r): FeedKey => ({ createdAt: r.created_at, id: r.activity_id })),

    /** Fan-out: one item into many feeds (Cassandra first, then the caches that exist). */
    async writeItem(userIds: string[], item: FeedItem) {
      if (userIds.length === 0) return 0;
      await fanOut(userIds, (u) => ({ query: q.writeItem, params: itemParams(u, item) }));
      await cache.add(userIds, item);
      await live.publish(userIds, [{ type: "add", item: toCached(item) }]);
      return userIds.length;
    },

    async removeItem(userIds: string[], key: FeedKey) {
      if (userIds.length === 0) return 0;
      await fanOut(userIds, (u) => ({ query: q.removeItem, params: [u, key.createdAt, key.id] }));
      await cache.remove(userIds, key.id);
      await live.publish(userIds, [{ type: "remove", id: key.id }]);
      return userIds.length;
    },

    /** Backfill: many items into one feed, as unlogged single-partition batches. */
    async writeItems(userId: string, items: FeedItem[]) {
      for (let i = 0; i < items.length; i += 100) {
        const chunk = items.slice(i, i + 100);
        await db.batch(chunk.map((item) => ({ query: q.writeItem, params: itemParams(userId, item) })), { prepare: true, logged: false });
      }
      await cache.addMany(userId, items);
      await live.publish([userId], items.map((i) => ({ type: "add" as const, item: toCached(i) })));
      return items.length;
    },

    async removeItems(userId: string, keys: FeedKey[]) {
      for (let i = 0; i < keys.length; i += 100) {
        const chunk = keys.slice(i, i + 100);
        await db.batch(chunk.map((k) => ({ query: q.removeItem, params: [userId, k.createdAt, k.id] })), { prepare: true, logged: false });
      }
      await cache.removeMany(userId, keys.map((k) => k.id));
      await live.publish([userId], keys.map((k) => ({ type: "remove" as const, id: k.id })));
      return keys.length;
    },

    /** A user's home feed from Cassandra, newest first, from the start or after a position. */
    async feed(userId: string, limit: number, after?: FeedKey): Promise<FeedItem[]> {
      const [query, params] = after ? [q.feedAfter, [userId, after.createdAt, after.id, limit]] : [q.feed, [userId, limit]];
      const rs = await db.execute(query, params, { prepare: true, fetchSize: Math.min(limit, 5000), autoPage: true });
      return rs.rows.map((r) => ({ ...toActivityRow(r, r.actor_id), actorHandle: r.actor_handle }));
    },

    /** A user's own activities (the profile feed), newest first, from the start or after a position. */
    async activitiesPage(actorId: string, limit: number, after?: FeedKey): Promise<Activity[]> {
      const [query, params] = after ? [q.activitiesAfter, [actorId, after.createdAt, after.id, limit]] : [q.activitiesFirst, [actorId, limit]];
      const rs = await db.execute(query, params, { prepare: true, fetchSize: Math.min(limit, 5000) });
      return rs.rows.map((r) => toActivityRow(r, actorId));
    },
  };
}

export type FeedStore = ReturnType<typeof createFeedStore>;

function toActivityRow(r: cassandra.types.Row, actorId: string): Activity {
  return {
    id: r.activity_id,
    verb: r.verb,
    actorId,
    createdAt: r.created_at,
    object: { type: r.object_type, id: r.object_id },
    postId: r.post_id,
    excerpt: r.excerpt,
  };
}

/**
 * The store as one user's serial stream sees it while it applies a run of events: that user's
 * row and follower list are read from Cassandra once and then kept in step with the run's own
 * writes. This is exact, not a cache that can go stale: only this stream writes them (see
 * docs/stream.md), and the view lives for one batch of one partition.
 */
export function streamView(store: FeedStore): FeedStore {
  const users = new Map<string, Awaited<ReturnType<FeedStore["getUser"]>>>();
  const followers = new Map<string, Set<string>>();
  return {
    ...store,
    async getUser(userId) {
      if (!users.has(userId)) users.set(userId, await store.getUser(userId));
      return users.get(userId)!;
    },
    async putUser(u) {
      const result = await store.putUser(u);
      users.set(u.id, { handle: u.handle, displayName: u.displayName });
      return result;
    },
    async deleteUser(userId) {
      const result = await store.deleteUser(userId);
      users.set(userId, null);
      return result;
    },
    async followers(userId) {
      let set = followers.get(userId);
      if (!set) followers.set(userId, (set = new Set(await store.followers(userId))));
      return [...set];
    },
    async addFollower(userId, followerId) {
      const result = await store.addFollower(userId, followerId);
      followers.get(userId)?.add(followerId);
      return result;
    },
    async removeFollower(userId, followerId) {
      const result = await store.removeFollower(userId, followerId);
      followers.get(userId)?.delete(followerId);
      return result;
    },
  };
}
