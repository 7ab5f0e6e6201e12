import type { FeedStore } from "../store/feeds";

/**
 * The store as one user's serial stream sees it while it applies a run of events.
 *
 * - That user's row and follower list are read from Cassandra once and then kept in step with
 *   the run's own writes. This is exact, not a cache that can go stale: only this stream writes
 *   them (see docs/stream.md), and the view lives for one batch of one partition.
 * - Every write, and every step of a fan-out (each Cassandra batch, the cache update, the live
 *   publish), first calls `guard`, which throws once the member may have lost the partition
 *   (src/stream/lease.ts): a member that finds its assignment gone stops writing at once. Each
 *   call also tells the batch's keep-alive that work goes on.
 */
export function streamView(store: FeedStore, guard: () => void = () => {}): FeedStore {
  const users = new Map<string, Awaited<ReturnType<FeedStore["getUser"]>>>();
  const followers = new Map<string, Set<string>>();
  /** The store's write, called only while the guard allows it. */
  const guarded =
    <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
    (...args: A) => {
      guard();
      return write(...args);
    };
  return {
    ...store,
    putActivity: guarded(store.putActivity),
    deleteActivity: guarded(store.deleteActivity),
    writeItem: guarded((userIds, item, ts) => store.writeItem(userIds, item, ts, guard)),
    removeItem: guarded((userIds, key, ts) => store.removeItem(userIds, key, ts, guard)),
    writeItems: guarded((userId, items) => store.writeItems(userId, items, guard)),
    removeItems: guarded((userId, keys, ts) => store.removeItems(userId, keys, ts, guard)),
    cut: guarded((userIds, sourceId, at, ts, opts) => store.cut(userIds, sourceId, at, ts, { ...opts, beforeBatch: guard })),
    dropCuts: guarded(store.dropCuts),
    uncut: guarded(store.uncut),
    async getUser(userId) {
      if (!users.has(userId)) users.set(userId, await store.getUser(userId));
      return users.get(userId)!;
    },
    async putUser(u, ts) {
      guard();
      const result = await store.putUser(u, ts);
      users.set(u.id, { handle: u.handle, displayName: u.displayName });
      return result;
    },
    async deleteUser(userId, ts) {
      guard();
      const result = await store.deleteUser(userId, ts);
      users.set(userId, null);
      return result;
    },
    async followers(userId) {
      let set = followers.get(userId);
      if (!set) followers.set(userId, (set = new Set(await store.followers(userId))));
      return [...set];
    },
    async addFollower(userId, followerId, since, ts) {
      guard();
      const result = await store.addFollower(userId, followerId, since, ts);
      followers.get(userId)?.add(followerId);
      return result;
    },
    async removeFollower(userId, followerId, ts) {
      guard();
      const result = await store.removeFollower(userId, followerId, ts);
      followers.get(userId)?.delete(followerId);
      return result;
    },
  };
}
