import { inParallel } from "../parallel";
import type { Activity } from "../stream/activities";
import type { CassandraClient } from "./cassandra";
import { type FeedCache, toCached } from "./feed-cache";
import { createFeedCuts } from "./feed-cuts";
import { activityColumns, allRows, inBatches, type FeedItem, type FeedKey, itemColumns, keyOf, micros, type Stored, toActivityRow, toFeedItem } from "./feed-rows";
import type { LiveFeed } from "./live";

export { type FeedItem, type FeedKey, feedOrder, type Stored } from "./feed-rows";

/**
 * The stream workers' store: the state they derive from the change stream (users, followers,
 * each user's activities) and the feeds they write, in Cassandra with the Redis cache in front.
 * Every write is an upsert or a delete by a deterministic key, so replaying is harmless.
 */
export function createFeedStore(deps: {
  cassandra: CassandraClient;
  cache: FeedCache;
  live: LiveFeed;
  /** Rows per fan-out batch and batches in flight per fan-out. */
  fanout: { batch: number; concurrency: number };
}) {
  const { cassandra: db, cache, live } = deps;
  const keyspace = db.keyspace;
  const { fanout } = deps;
  const q = {
    getUser: "SELECT handle, display_name FROM users WHERE user_id = ?",
    putUser: "INSERT INTO users (user_id, handle, display_name) VALUES (?, ?, ?) USING TIMESTAMP ?",
    deleteUser: "DELETE FROM users USING TIMESTAMP ? WHERE user_id = ?",
    addFollower: "INSERT INTO followers (user_id, follower_id, since) VALUES (?, ?, ?) USING TIMESTAMP ?",
    removeFollower: "DELETE FROM followers USING TIMESTAMP ? WHERE user_id = ? AND follower_id = ?",
    followers: "SELECT follower_id FROM followers WHERE user_id = ?",
    addFollowing: "INSERT INTO following (follower_id, followee_id, since) VALUES (?, ?, ?) USING TIMESTAMP ?",
    removeFollowing: "DELETE FROM following USING TIMESTAMP ? WHERE follower_id = ? AND followee_id = ?",
    following: "SELECT followee_id, WRITETIME(since) AS ts FROM following WHERE follower_id = ?",
    putActivity: `INSERT INTO activities_by_actor (actor_id, created_at, activity_id, verb, object_type, object_id, post_id, excerpt)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`,
    deleteActivity: "DELETE FROM activities_by_actor USING TIMESTAMP ? WHERE actor_id = ? AND created_at = ? AND activity_id = ?",
    activities: `SELECT ${activityColumns} FROM activities_by_actor WHERE actor_id = ? LIMIT ?`,
    activitiesAfter: `SELECT ${activityColumns} FROM activities_by_actor WHERE actor_id = ? AND (created_at, activity_id) < (?, ?) LIMIT ?`,
    activityKeysOf: "SELECT created_at, activity_id FROM activities_by_actor WHERE actor_id = ?",
    writeItem: `INSERT INTO home_feed (user_id, created_at, activity_id, verb, actor_id, actor_handle, object_type, object_id, post_id, excerpt)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`,
    removeItem: "DELETE FROM home_feed USING TIMESTAMP ? WHERE user_id = ? AND created_at = ? AND activity_id = ?",
    feed: `SELECT ${itemColumns} FROM home_feed WHERE user_id = ? LIMIT ?`,
    feedAfter: `SELECT ${itemColumns} FROM home_feed WHERE user_id = ? AND (created_at, activity_id) < (?, ?) LIMIT ?`,
    feedKeys: "SELECT created_at, activity_id FROM home_feed WHERE user_id = ? LIMIT ?",
    feedKeysFrom: "SELECT created_at, activity_id FROM home_feed WHERE user_id = ? AND (created_at, activity_id) >= (?, ?) LIMIT ?",
  };
  const itemParams = (userId: string, i: FeedItem, ts: number) => [
    userId, i.createdAt, i.id, i.verb, i.actorId, i.actorHandle, i.object.type, i.object.id, i.postId, i.excerpt, ts,
  ];
  const prepare = { prepare: true };

  /**
   * One statement per user, sent as unlogged batches of rows that share a replica (token-aware:
   * each batch goes to a node that owns every partition in it, so the coordinator applies it
   * locally instead of forwarding). A batch is not atomic here and need not be: every row is an
   * idempotent upsert or delete, and the caller retries the whole fan-out on failure. Batching
   * cuts the per-request cost on both sides, which is what bounds fan-out on a small machine.
   */
  async function fanOut(userIds: string[], statement: (userId: string) => { query: string; params: unknown[] }, beforeBatch?: () => void) {
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
      beforeBatch?.();
      await (batch.length === 1 ? db.execute(batch[0]!.query, batch[0]!.params, prepare) : db.batch(batch, { prepare: true, logged: false }));
    });
  }



  // Every write takes `ts`, its write time (src/stream/write-time.ts): the event's position, not a clock.
  return {
    ...createFeedCuts({ db, fanOut }),
    async getUser(userId: string) {
      const row = (await db.execute(q.getUser, [userId], prepare)).first();
      return row ? { handle: row.handle as string, displayName: row.display_name as string | null } : null;
    },
    putUser: (u: { id: string; handle: string; displayName: string | null }, ts: number) => db.execute(q.putUser, [u.id, u.handle, u.displayName, ts], prepare),
    deleteUser: (userId: string, ts: number) => db.execute(q.deleteUser, [ts, userId], prepare),

    /** A follow edge, recorded both ways: followers (fan-out targets) and following (what a feed is completed from). */
    addFollower: (userId: string, followerId: string, since: Date, ts: number) =>
      db.batch(
        [
          { query: q.addFollower, params: [userId, followerId, since, ts] },
          { query: q.addFollowing, params: [followerId, userId, since, ts] },
        ],
        { prepare: true, logged: false },
      ),
    removeFollower: (userId: string, followerId: string, ts: number) =>
      db.batch(
        [
          { query: q.removeFollower, params: [ts, userId, followerId] },
          { query: q.removeFollowing, params: [ts, followerId, userId] },
        ],
        { prepare: true, logged: false },
      ),
    /** Everyone following the user now. */
    followers: (userId: string) => allRows(db, q.followers, [userId], (row) => row.follower_id as string),
    /** Everyone the user follows now, with the write time of each follow. */
    following: (userId: string) => allRows(db, q.following, [userId], (row) => ({ userId: row.followee_id as string, ts: micros(row.ts) })),

    putActivity: (a: Activity, ts: number) =>
      db.execute(q.putActivity, [a.actorId, a.createdAt, a.id, a.verb, a.object.type, a.object.id, a.postId, a.excerpt, ts], prepare),
    deleteActivity: (a: FeedKey & { actorId: string }, ts: number) => db.execute(q.deleteActivity, [ts, a.actorId, a.createdAt, a.id], prepare),
    /**
     * A user's activities, newest first, from the start or after a position, however old:
     * retention is by length, so a quiet account's year-old post is still among its newest
     * (FEED-SPEC). Each carries `ts`, the write time of its row.
     */
    async activities(actorId: string, limit: number, after?: FeedKey): Promise<Stored<Activity>[]> {
      const [query, params] = after ? [q.activitiesAfter, [actorId, after.createdAt, after.id, limit]] : [q.activities, [actorId, limit]];
      const rs = await db.execute(query, params, { prepare: true, fetchSize: Math.min(limit, 5000), autoPage: true });
      return rs.rows.map((r) => toActivityRow(r, actorId));
    },
    /** The keys of every activity of a user, however many and however old (what an unfollow removes). */
    activityKeysOf: (actorId: string) => allRows(db, q.activityKeysOf, [actorId], keyOf),

    /**
     * Fan-out: one item into many feeds (Cassandra first, then the caches that exist, then live
     * subscribers). `beforeStep` runs before each Cassandra batch, the cache update and the
     * publish (the stream's lease check and progress, src/stream/stream-view.ts).
     */
    async writeItem(userIds: string[], item: FeedItem, ts: number, beforeStep?: () => void) {
      if (userIds.length === 0) return 0;
      await fanOut(userIds, (u) => ({ query: q.writeItem, params: itemParams(u, item, ts) }), beforeStep);
      beforeStep?.();
      await cache.add(userIds, item, ts);
      beforeStep?.();
      await live.publish(userIds, [{ type: "add", item: toCached(item) }]);
      return userIds.length;
    },

    async removeItem(userIds: string[], key: FeedKey, ts: number, beforeStep?: () => void) {
      if (userIds.length === 0) return 0;
      await fanOut(userIds, (u) => ({ query: q.removeItem, params: [ts, u, key.createdAt, key.id] }), beforeStep);
      beforeStep?.();
      await cache.remove(userIds, key.id, ts);
      beforeStep?.();
      await live.publish(userIds, [{ type: "remove", id: key.id }]);
      return userIds.length;
    },

    /** Backfill and completion: many items into one feed, each with its own write time. */
    async writeItems(userId: string, items: Stored<FeedItem>[], beforeStep?: () => void) {
      await inBatches(db, items, (item) => ({ query: q.writeItem, params: itemParams(userId, item, item.ts) }), beforeStep);
      beforeStep?.();
      await cache.addMany(userId, items);
      beforeStep?.();
      await live.publish([userId], items.map((i) => ({ type: "add" as const, item: toCached(i) })));
      return items.length;
    },

    async removeItems(userId: string, keys: FeedKey[], ts: number, beforeStep?: () => void) {
      await inBatches(db, keys, (k) => ({ query: q.removeItem, params: [ts, userId, k.createdAt, k.id] }), beforeStep);
      beforeStep?.();
      await cache.removeMany(userId, keys.map((k) => k.id), ts);
      beforeStep?.();
      await live.publish([userId], keys.map((k) => ({ type: "remove" as const, id: k.id })));
      return keys.length;
    },

    /** A user's home feed from Cassandra, newest first, from the start or after a position; each item with its write time. */
    async feed(userId: string, limit: number, after?: FeedKey): Promise<Stored<FeedItem>[]> {
      const [query, params] = after ? [q.feedAfter, [userId, after.createdAt, after.id, limit]] : [q.feed, [userId, limit]];
      const rs = await db.execute(query, params, { prepare: true, fetchSize: Math.min(limit, 5000), autoPage: true });
      return rs.rows.map(toFeedItem);
    },
    /** The positions of the first `limit` items of a user's home feed, or of those at or above `from`. */
    async feedKeys(userId: string, limit: number, from?: FeedKey): Promise<FeedKey[]> {
      const [query, params] = from ? [q.feedKeysFrom, [userId, from.createdAt, from.id, limit]] : [q.feedKeys, [userId, limit]];
      const rs = await db.execute(query, params, { prepare: true, fetchSize: Math.min(limit, 5000), autoPage: true });
      return rs.rows.map(keyOf);
    },
  };
}

export type FeedStore = ReturnType<typeof createFeedStore>;

