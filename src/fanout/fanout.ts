import type { FeedItem, FeedKey, Stored } from "../model/feed";
import { toWireItem } from "../model/feed";
import type { FeedCache } from "../feeds/cache";
import type { LiveEvent, LiveFeed } from "../feeds/live";
import type { FeedStore } from "../feeds/store";

/**
 * Fan-out: writes an item into (or out of) feeds in three systems, always in this order:
 * 1. the Cassandra rows, the source of truth for feeds;
 * 2. the Redis caches that exist (a reader built them; a write never creates one);
 * 3. the live subscribers (pub/sub, at most once: a reconnect reads the feed).
 * A crash between steps replays the whole event: each step is idempotent at the event's write
 * time. `beforeStep` runs before each Cassandra batch, the cache update and the publish (the
 * stream's lease check and progress, src/stream/unit-of-work.ts).
 *
 * The look-ups of who has a cache and who listens live go to Redis together, after the Cassandra
 * write (a reader that registers later rebuilds from rows that hold the item): one round trip,
 * which is all a fan-out to users who are neither reading nor listening costs Redis.
 *
 * An item for more than `chunk` feeds goes through the three steps `chunk` feeds at a time, the
 * feeds of users listening live first: a live follower of a large account hears of a post once
 * their own rows are written, not once every follower's are. Which users listen is asked once
 * more up front for that order only; each chunk still looks them up after its own write, as above.
 */
export function createFanout({ feeds, cache, live, chunk }: { feeds: FeedStore; cache: FeedCache; live: LiveFeed; chunk: number }) {
  /** Started beside the cache's own look-up, so that both leave in one write (the client auto-pipelines); awaited after the cache update. */
  const lookUpListening = (userIds: string[]) => {
    const listening = live.listening(userIds);
    listening.catch(() => {}); // the cache update may fail first; the await below still throws
    return listening;
  };

  /** The targets in the order their feeds are written, and in chunks (see above). */
  async function steps(userIds: string[]) {
    if (userIds.length <= chunk) return [userIds];
    const listening = new Set(await live.listening(userIds));
    const ordered = listening.size === 0 ? userIds : [...userIds.filter((u) => listening.has(u)), ...userIds.filter((u) => !listening.has(u))];
    const out: string[][] = [];
    for (let i = 0; i < ordered.length; i += chunk) out.push(ordered.slice(i, i + chunk));
    return out;
  }

  /**
   * One change to many feeds, through the three steps in their order (see above), chunk by
   * chunk: the rows (`write`), the caches that exist (`update`), then the listeners.
   */
  async function inOrder(
    userIds: string[],
    write: (part: string[]) => Promise<unknown>,
    update: (part: string[]) => Promise<unknown>,
    events: LiveEvent[],
    beforeStep?: () => void,
  ) {
    if (userIds.length === 0) return 0;
    for (const part of await steps(userIds)) {
      await write(part);
      beforeStep?.();
      const listening = lookUpListening(part);
      await update(part);
      beforeStep?.();
      await live.publishTo(await listening, events);
    }
    return userIds.length;
  }

  return {
    /**
     * One item into many feeds; returns how many feeds it reached. `withActivity`: the actor's
     * activity row is written in the same request as the first feed rows (src/feeds/store.ts).
     */
    async add(userIds: string[], item: FeedItem, ts: number, beforeStep?: () => void, options?: { withActivity?: boolean }) {
      return inOrder(
        userIds,
        (part) => feeds.putItem(part, item, ts, beforeStep, options),
        (part) => cache.add(part, item, ts),
        [{ type: "add", item: toWireItem(item) }],
        beforeStep,
      );
    },

    /** One item out of many feeds. */
    async remove(userIds: string[], key: FeedKey, ts: number, beforeStep?: () => void) {
      return inOrder(
        userIds,
        (part) => feeds.deleteItem(part, key, ts, beforeStep),
        (part) => cache.remove(part, key.id, ts),
        [{ type: "remove", id: key.id }],
        beforeStep,
      );
    },

    /** Many items into one feed, each with its own write time (a follow's backfill, a completion). */
    async addMany(userId: string, items: Stored<FeedItem>[], beforeStep?: () => void) {
      await feeds.putItems(userId, items, beforeStep);
      beforeStep?.();
      await cache.addMany(userId, items);
      beforeStep?.();
      await live.publish([userId], items.map((i) => ({ type: "add" as const, item: toWireItem(i) })));
      return items.length;
    },

    /**
     * Tells these users' feeds that they pull `sourceId` in at read time now, or no longer
     * (hybrid fan-out): the feed_sources rows, the caches that exist, then a `sources` event to
     * the live streams, which listen to the accounts their feed pulls in.
     */
    async pull(userIds: string[], sourceId: string, pulled: boolean, ts: number, beforeStep?: () => void) {
      return inOrder(
        userIds,
        (part) => (pulled ? feeds.putSources(part, sourceId, ts, beforeStep) : feeds.deleteSources(part, sourceId, ts, beforeStep)),
        (part) => cache.sources(part, sourceId, pulled, ts),
        [{ type: "sources" }],
        beforeStep,
      );
    },

    /**
     * A user's own activities into (or out of) their account's cache, which pulled accounts'
     * followers' pages read; kept for every account whose cache exists, pulled or not, so that
     * it is never stale when the account is pulled again. A removal needs no live event of its
     * own: it goes to every follower's feed, and so to their streams (src/stream/handlers/activity.ts).
     * The activity rows themselves are written with the actor's own feed rows (`withActivity`).
     */
    account: {
      /** `publish`: the account is pulled, and the streams that listen to it are told of each item. */
      async add(items: Stored<FeedItem>[], publish?: boolean) {
        if (items.length === 0) return;
        await cache.account.add(items[0]!.actorId, items);
        if (publish) await Promise.all(items.map((i) => live.publishAccount(i.actorId, { type: "add", item: toWireItem(i) })));
      },
      remove: (actorId: string, key: FeedKey, ts: number) => cache.account.remove(actorId, [key.id], ts),
      /** Drops the account's cache (its items carry the handle, which changed): the next page rebuilds it from Cassandra. */
      drop: (actorId: string) => cache.account.drop(actorId),
    },

    /** Many items out of one feed (an unfollow). */
    async removeMany(userId: string, keys: FeedKey[], ts: number, beforeStep?: () => void) {
      await feeds.deleteItems(userId, keys, ts, beforeStep);
      beforeStep?.();
      await cache.removeMany(userId, keys.map((k) => k.id), ts);
      beforeStep?.();
      await live.publish([userId], keys.map((k) => ({ type: "remove" as const, id: k.id })));
      return keys.length;
    },
  };
}

export type Fanout = ReturnType<typeof createFanout>;
