import type { Fanout } from "../fanout/fanout";
import type { FeedStore, Reach } from "../feeds/store";
import type { ObjectCache } from "../feeds/objects";
import type { Notifier } from "../fanout/notify";

/**
 * The feed store and the fan-out as one user's serial stream sees them while it applies a run of
 * events (one batch of one partition).
 *
 * - That user's row, follower list and reach (follower count, pulled or pushed) are read from
 *   Cassandra once and then kept in step with the run's own writes. This is exact, not a cache that can go stale: only this stream writes
 *   them (see docs/stream.md), and the view lives for one batch of one partition.
 * - Every write, and every step of a fan-out (each Cassandra batch, the cache update, the live
 *   publish), first calls `guard`, which throws once the member may have lost the partition
 *   (src/stream/lease.ts): a member that finds its assignment gone stops writing at once. Each
 *   call also tells the batch's keep-alive that work goes on.
 */
export function unitOfWork(
  store: FeedStore,
  fanout: Fanout,
  objects: Pick<ObjectCache, "put">,
  notifier: Notifier,
  guard: () => void = () => {},
): { feeds: FeedStore; fanout: Fanout; objects: Pick<ObjectCache, "put">; notifier: Notifier } {
  const users = new Map<string, Awaited<ReturnType<FeedStore["getUser"]>>>();
  const followers = new Map<string, Set<string>>();
  const reach = new Map<string, Reach>();
  /** The run's view of a follower count it has just written (no longer one counted from the rows). */
  const keepCount = (userId: string, count: number) => {
    const r = reach.get(userId);
    if (r) [r.followers, r.counted] = [count, undefined];
  };
  /** The write, called only while the guard allows it. */
  const guarded =
    <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
    (...args: A) => {
      guard();
      return write(...args);
    };
  const feeds: FeedStore = {
    ...store,
    putActivity: guarded(store.putActivity),
    deleteActivity: guarded(store.deleteActivity),
    putItem: guarded((userIds, item, ts, _, options) => store.putItem(userIds, item, ts, guard, options)),
    deleteItem: guarded((userIds, key, ts) => store.deleteItem(userIds, key, ts, guard)),
    putItems: guarded((userId, items) => store.putItems(userId, items, guard)),
    deleteItems: guarded((userId, keys, ts) => store.deleteItems(userId, keys, ts, guard)),
    cut: guarded((userIds, sourceId, at, ts, opts) => store.cut(userIds, sourceId, at, ts, { ...opts, beforeBatch: guard })),
    dropCuts: guarded(store.dropCuts),
    putPost: guarded(store.putPost),
    deletePost: guarded(store.deletePost),
    uncut: guarded(store.uncut),
    putSources: guarded((userIds, sourceId, ts) => store.putSources(userIds, sourceId, ts, guard)),
    deleteSources: guarded((userIds, sourceId, ts) => store.deleteSources(userIds, sourceId, ts, guard)),
    deleteRows: guarded(store.deleteRows),
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
    async addFollower(userId, followerId, since, ts, count) {
      guard();
      const result = await store.addFollower(userId, followerId, since, ts, count);
      followers.get(userId)?.add(followerId);
      keepCount(userId, count);
      return result;
    },
    async removeFollower(userId, followerId, ts, count) {
      guard();
      const result = await store.removeFollower(userId, followerId, ts, count);
      followers.get(userId)?.delete(followerId);
      keepCount(userId, count);
      return result;
    },
    async reach(userId) {
      if (!reach.has(userId)) reach.set(userId, await store.reach(userId));
      return { ...reach.get(userId)! };
    },
    async setFollowerCount(userId, count, ts) {
      guard();
      const result = await store.setFollowerCount(userId, count, ts);
      keepCount(userId, count);
      return result;
    },
    async setPulled(userId, pulled, ts) {
      guard();
      const result = await store.setPulled(userId, pulled, ts);
      const r = reach.get(userId);
      if (r) r.pulled = pulled;
      return result;
    },
  };
  return {
    feeds,
    objects: { put: guarded(objects.put) },
    notifier: { apply: guarded((action, op, ts) => notifier.apply(action, op, ts, guard)), mark: guarded(notifier.mark) },
    fanout: {
      add: guarded((userIds, item, ts, _, options) => fanout.add(userIds, item, ts, guard, options)),
      remove: guarded((userIds, key, ts) => fanout.remove(userIds, key, ts, guard)),
      addMany: guarded((userId, items) => fanout.addMany(userId, items, guard)),
      removeMany: guarded((userId, keys, ts) => fanout.removeMany(userId, keys, ts, guard)),
      pull: guarded((userIds, sourceId, pulled, ts) => fanout.pull(userIds, sourceId, pulled, ts, guard)),
      account: { add: guarded(fanout.account.add), remove: guarded(fanout.account.remove), drop: guarded(fanout.account.drop) },
    },
  };
}
