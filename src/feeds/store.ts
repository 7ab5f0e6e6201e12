import type { CassandraClient } from "../clients/cassandra";
import type { Activity } from "../model/activity";
import type { CachedItem, FeedItem, FeedKey, ObjectRef, PostObject, Stored } from "../model/feed";
import { allRows, createReplicaBatches, inBatches } from "./batches";
import type { Loaded } from "./objects";
import { createFeedCuts } from "./cuts";
import { activityCell, activityColumns, createPageRows, itemCell, itemColumns, keyOf, micros, toActivityRow, toCachedItem, toFeedItem } from "./rows";

/**
 * The feed store, in Cassandra: the state the stream workers derive from the change stream
 * (users, followers and following, each user's activities) and the home feed rows. A plain
 * repository: every write is an upsert or a delete by a deterministic key at a given write time
 * (`ts`, src/model/write-time.ts), so replaying is harmless. Writing an item to feeds and then to
 * the cache and live subscribers is the fan-out's job (src/fanout/fanout.ts).
 */
export function createFeedStore(deps: {
  cassandra: CassandraClient;
  /** Rows per fan-out batch and batches in flight per fan-out. */
  fanout: { batch: number; concurrency: number };
  /**
   * How home_feed and activities_by_actor rows are written: one `item` cell (the default), or the
   * separate columns, which a build from before migrations 006 and 007 reads: for a rolling upgrade
   * from one, until every process reads both (docs/operations.md). Reads take both forms either way.
   */
  rowForm?: "cell" | "columns";
}) {
  const { cassandra: db } = deps;
  const byReplica = createReplicaBatches(db, deps.fanout);
  const q = {
    getUser: "SELECT handle, display_name FROM users WHERE user_id = ?",
    allUsers: "SELECT user_id FROM users",
    putUser: "INSERT INTO users (user_id, handle, display_name) VALUES (?, ?, ?) USING TIMESTAMP ?",
    deleteUser: "DELETE FROM users USING TIMESTAMP ? WHERE user_id = ?",
    userObject: "SELECT handle, display_name, WRITETIME(handle) AS ts FROM users WHERE user_id = ?",
    putPost: "INSERT INTO posts (post_id, author_id, excerpt) VALUES (?, ?, ?) USING TIMESTAMP ?",
    deletePost: "DELETE FROM posts USING TIMESTAMP ? WHERE post_id = ?",
    postObject: "SELECT author_id, excerpt, WRITETIME(author_id) AS ts FROM posts WHERE post_id = ?",
    addFollower: "INSERT INTO followers (user_id, follower_id, since) VALUES (?, ?, ?) USING TIMESTAMP ?",
    removeFollower: "DELETE FROM followers USING TIMESTAMP ? WHERE user_id = ? AND follower_id = ?",
    followers: "SELECT follower_id FROM followers WHERE user_id = ?",
    addFollowing: "INSERT INTO following (follower_id, followee_id, since) VALUES (?, ?, ?) USING TIMESTAMP ?",
    removeFollowing: "DELETE FROM following USING TIMESTAMP ? WHERE follower_id = ? AND followee_id = ?",
    following: "SELECT followee_id, WRITETIME(since) AS ts FROM following WHERE follower_id = ?",
    isFollower: "SELECT since FROM followers WHERE user_id = ? AND follower_id = ?",
    countFollowers: "SELECT COUNT(*) AS n FROM followers WHERE user_id = ?",
    reach: "SELECT followers, pulled FROM reach WHERE user_id = ?",
    setFollowerCount: "UPDATE reach USING TIMESTAMP ? SET followers = ? WHERE user_id = ?",
    setPulled: "UPDATE reach USING TIMESTAMP ? SET pulled = ? WHERE user_id = ?",
    putSource: "INSERT INTO feed_sources (user_id, source_id, since) VALUES (?, ?, ?) USING TIMESTAMP ?",
    deleteSource: "DELETE FROM feed_sources USING TIMESTAMP ? WHERE user_id = ? AND source_id = ?",
    sources: "SELECT source_id, WRITETIME(since) AS ts FROM feed_sources WHERE user_id = ?",
    // One cell per row (migration 007), as home_feed's below; or the separate columns (`rowForm`).
    putActivity: "INSERT INTO activities_by_actor (actor_id, created_at, activity_id, item) VALUES (?, ?, ?, ?) USING TIMESTAMP ?",
    putActivityColumns: `INSERT INTO activities_by_actor (actor_id, created_at, activity_id, verb, object_type, object_id, object_author_id, post_id, excerpt)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`,
    deleteActivity: "DELETE FROM activities_by_actor USING TIMESTAMP ? WHERE actor_id = ? AND created_at = ? AND activity_id = ?",
    activityKeysOf: "SELECT created_at, activity_id FROM activities_by_actor WHERE actor_id = ?",
    // One cell per row (migration 006): a row's cost in Cassandra, and the driver's, grows with its cells.
    writeItem: "INSERT INTO home_feed (user_id, created_at, activity_id, item) VALUES (?, ?, ?, ?) USING TIMESTAMP ?",
    writeItemColumns: `INSERT INTO home_feed (user_id, created_at, activity_id, verb, actor_id, actor_handle, object_type, object_id, object_author_id, post_id, excerpt)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`,
    removeItem: "DELETE FROM home_feed USING TIMESTAMP ? WHERE user_id = ? AND created_at = ? AND activity_id = ?",
    feedKeys: "SELECT created_at, activity_id FROM home_feed WHERE user_id = ? LIMIT ?",
    feedKeysFrom: "SELECT created_at, activity_id FROM home_feed WHERE user_id = ? AND (created_at, activity_id) >= (?, ?) LIMIT ?",
  };
  const inColumns = deps.rowForm === "columns";
  /** A home_feed row's statement; `cell`: the item's `itemCell`, made once per item however many feeds it goes to. */
  const itemStatement = (userId: string, i: FeedItem, ts: number, cell?: string) =>
    inColumns
      ? { query: q.writeItemColumns, params: [userId, i.createdAt, i.id, i.verb, i.actorId, i.actorHandle, i.object.type, i.object.id, i.object.authorId, i.postId, i.excerpt, ts] }
      : { query: q.writeItem, params: [userId, i.createdAt, i.id, cell ?? itemCell(i), ts] };

  const activityStatement = (a: Activity, ts: number) =>
    inColumns
      ? { query: q.putActivityColumns, params: [a.actorId, a.createdAt, a.id, a.verb, a.object.type, a.object.id, a.object.authorId, a.postId, a.excerpt, ts] }
      : { query: q.putActivity, params: [a.actorId, a.createdAt, a.id, activityCell(a), ts] };

  // Pages of feeds and activities: in one cell, or in both forms where a row needs them (rows.ts).
  const feedRows = createPageRows(db, "home_feed", "user_id", itemColumns, inColumns, (userId, rows) =>
    inBatches(db, rows.map(toFeedItem), (i) => itemStatement(userId, i, i.ts)),
  );
  const activityRows = createPageRows(db, "activities_by_actor", "actor_id", activityColumns, inColumns, (actorId, rows) =>
    inBatches(db, rows.map((r) => toActivityRow(r, actorId)), (a) => activityStatement(a, a.ts)),
  );

  // Every write takes `ts`, its write time (src/model/write-time.ts): the event's position, not a clock.
  return {
    ...createFeedCuts({ db, byReplica }),
    async getUser(userId: string) {
      const row = (await db.execute(q.getUser, [userId])).first();
      return row ? { handle: row.handle as string, displayName: row.display_name as string | null } : null;
    },
    putUser: (u: { id: string; handle: string; displayName: string | null }, ts: number) => db.execute(q.putUser, [u.id, u.handle, u.displayName, ts]),
    /** Every user, a page (up to 5,000) at a time, in token order: the inactive users' sweep. */
    async eachUserPage(page: (userIds: string[]) => Promise<void>) {
      let pageState: string | undefined;
      do {
        const rs = await db.execute(q.allUsers, [], { fetchSize: 5000, pageState });
        await page(rs.rows.map((r) => r.user_id as string));
        pageState = rs.pageState ?? undefined;
      } while (pageState);
    },
    deleteUser: (userId: string, ts: number) => db.execute(q.deleteUser, [ts, userId]),

    /** A post as other users' items render it (src/feeds/objects.ts); written by its author's stream. */
    putPost: (postId: string, post: PostObject, ts: number) => db.execute(q.putPost, [postId, post.authorId, post.excerpt, ts]),
    deletePost: (postId: string, ts: number) => db.execute(q.deletePost, [ts, postId]),
    /** Posts and users as pages render them, each with its write time (0 and null when there is no row). */
    objects: (refs: ObjectRef[]): Promise<Loaded[]> =>
      Promise.all(
        refs.map(async (ref) => {
          const row = (await db.execute(ref.type === "post" ? q.postObject : q.userObject, [ref.id])).first();
          if (!row || row.ts === null) return { value: null, ts: 0 };
          const value = ref.type === "post" ? { authorId: row.author_id, excerpt: row.excerpt } : { handle: row.handle, displayName: row.display_name };
          return { value, ts: micros(row.ts) };
        }),
      ),

    /**
     * A follow edge, recorded both ways (followers: fan-out targets; following: what a feed is
     * completed from), with the user's follower count after it: one logged batch, so that a crash
     * leaves all three or none, and the count always agrees with the rows (`reach`).
     */
    addFollower: (userId: string, followerId: string, since: Date, ts: number, followers: number) =>
      db.batch(
        [
          { query: q.addFollower, params: [userId, followerId, since, ts] },
          { query: q.addFollowing, params: [followerId, userId, since, ts] },
          { query: q.setFollowerCount, params: [ts, followers, userId] },
        ],
        { logged: true },
      ),
    removeFollower: (userId: string, followerId: string, ts: number, followers: number) =>
      db.batch(
        [
          { query: q.removeFollower, params: [ts, userId, followerId] },
          { query: q.removeFollowing, params: [ts, followerId, userId] },
          { query: q.setFollowerCount, params: [ts, followers, userId] },
        ],
        { logged: true },
      ),
    /** Whether the edge follower → user is recorded now. */
    isFollower: async (userId: string, followerId: string) => (await db.execute(q.isFollower, [userId, followerId])).rowLength > 0,
    /**
     * How many followers the user has, and whether its activities are pulled at read time
     * (hybrid fan-out, docs/stream.md). A user whose count was never written (new, or followed
     * before the count existed) is counted from its followers rows (`counted`): the caller, the
     * user's own stream, writes that count (`setFollowerCount`), so that it is counted once.
     */
    async reach(userId: string): Promise<Reach> {
      const row = (await db.execute(q.reach, [userId])).first();
      if (row?.followers != null) return { followers: row.followers as number, pulled: row.pulled === true };
      const followers = Number((await db.execute(q.countFollowers, [userId])).first()?.n ?? 0);
      return { followers, pulled: row?.pulled === true, counted: true };
    },
    setFollowerCount: (userId: string, followers: number, ts: number) => db.execute(q.setFollowerCount, [ts, followers, userId]),
    setPulled: (userId: string, pulled: boolean, ts: number) => db.execute(q.setPulled, [ts, pulled, userId]),
    /** Records that these users' feeds pull the source in at read time (they follow it, and it is pulled). */
    putSources: (userIds: string[], sourceId: string, ts: number, beforeBatch?: () => void) =>
      byReplica(userIds, (u) => ({ query: q.putSource, params: [u, sourceId, new Date(), ts] }), beforeBatch),
    deleteSources: (userIds: string[], sourceId: string, ts: number, beforeBatch?: () => void) =>
      byReplica(userIds, (u) => ({ query: q.deleteSource, params: [ts, u, sourceId] }), beforeBatch),
    /** The pulled accounts the user's feed merges in, each with the write time of its row. */
    sources: (userId: string) => allRows(db, q.sources, [userId], (row): Source => ({ userId: row.source_id as string, ts: micros(row.ts) })),
    /** Everyone following the user now. */
    followers: (userId: string) => allRows(db, q.followers, [userId], (row) => row.follower_id as string),
    /** Everyone the user follows now, with the write time of each follow. */
    following: (userId: string) => allRows(db, q.following, [userId], (row) => ({ userId: row.followee_id as string, ts: micros(row.ts) })),

    putActivity: (a: Activity, ts: number) => {
      const { query, params } = activityStatement(a, ts);
      return db.execute(query, params);
    },
    deleteActivity: (a: FeedKey & { actorId: string }, ts: number) => db.execute(q.deleteActivity, [ts, a.actorId, a.createdAt, a.id]),
    /**
     * A user's activities, newest first, from the start or after a position, however old:
     * retention is by length, so a quiet account's year-old post is still among its newest
     * (docs/contract.md). Each carries `ts`, the write time of its row.
     */
    activities: async (actorId: string, limit: number, after?: FeedKey): Promise<Stored<Activity>[]> => (await activityRows(actorId, limit, after)).map((r) => toActivityRow(r, actorId)),
    /** The keys of every activity of a user, however many and however old (what an unfollow removes). */
    activityKeysOf: (actorId: string) => allRows(db, q.activityKeysOf, [actorId], keyOf),

    /**
     * One item into many feeds (token-aware batches); `beforeBatch` runs before each batch.
     * `withActivity`: the actor's activity row (activities_by_actor, the same partition key as the
     * actor's own feed) goes in the batch that holds the actor's feed row, saving a request per
     * activity. Both are idempotent at `ts` and a crash replays both, so their order does not matter.
     */
    putItem(userIds: string[], item: FeedItem, ts: number, beforeBatch?: () => void, options?: { withActivity?: boolean }) {
      const cell = inColumns ? undefined : itemCell(item);
      return byReplica(
        userIds,
        (u) => [
          itemStatement(u, item, ts, cell),
          ...(options?.withActivity && u === item.actorId ? [activityStatement(item, ts)] : []),
        ],
        beforeBatch,
      );
    },
    /** One item out of many feeds. */
    deleteItem: (userIds: string[], key: FeedKey, ts: number, beforeBatch?: () => void) =>
      byReplica(userIds, (u) => ({ query: q.removeItem, params: [ts, u, key.createdAt, key.id] }), beforeBatch),
    /** Many items into one feed, each with its own write time (backfill, completion). */
    putItems: (userId: string, items: Stored<FeedItem>[], beforeBatch?: () => void) =>
      inBatches(db, items, (item) => itemStatement(userId, item, item.ts), beforeBatch),
    /** Many items out of one feed (an unfollow). */
    deleteItems: (userId: string, keys: FeedKey[], ts: number, beforeBatch?: () => void) =>
      inBatches(db, keys, (k) => ({ query: q.removeItem, params: [ts, userId, k.createdAt, k.id] }), beforeBatch),

    /** A user's home feed from Cassandra, newest first, from the start or after a position; each item with its write time. */
    feed: async (userId: string, limit: number, after?: FeedKey): Promise<Stored<FeedItem>[]> => (await feedRows(userId, limit, after)).map(toFeedItem),
    /** The same, as the cache takes the items (the reader's rebuilds and pages). */
    cachedFeed: async (userId: string, limit: number, after?: FeedKey): Promise<CachedItem[]> => (await feedRows(userId, limit, after)).map(toCachedItem),
    /** The positions of the first `limit` items of a user's home feed, or of those at or above `from`. */
    async feedKeys(userId: string, limit: number, from?: FeedKey): Promise<FeedKey[]> {
      const [query, params] = from ? [q.feedKeysFrom, [userId, from.createdAt, from.id, limit]] : [q.feedKeys, [userId, limit]];
      const rs = await db.execute(query, params, { fetchSize: Math.min(limit, 5000), autoPage: true });
      return rs.rows.map(keyOf);
    },
  };
}

export type FeedStore = ReturnType<typeof createFeedStore>;

/** An account's follower count, and whether it is pulled at read time rather than pushed (hybrid fan-out). */
export type Reach = { followers: number; pulled: boolean; counted?: boolean };

/** A pulled account a feed merges in, with the write time of the record that says so. */
export type Source = { userId: string; ts: number };

