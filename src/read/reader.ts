import type { Metrics } from "../metrics";
import type { CachePages } from "../feeds/cache-pages";
import type { FeedStore } from "../feeds/store";
import { outageOf } from "../clients/outage";
import { type FeedKey, type WireItem, positionOf, toWireItem } from "../model/feed";

/**
 * The read side of home feeds: a page is one round trip to Redis. On a missing or expired cache
 * the page is read from Cassandra and the cache is rebuilt from Cassandra in the background (one
 * rebuild per user at a time: single-flight in the process, a short Redis lock across
 * processes). Pages past the cached length, or any page while Redis is unreachable, come from
 * Cassandra in the same order. Never PostgreSQL.
 */
export function createFeedReader(deps: {
  feeds: FeedStore;
  cache: CachePages;
  length: number;
  metrics: Metrics;
  /** Called on each first page of a home feed (the upkeep, src/fanout/upkeep.ts). */
  onRead?: (userId: string) => void;
}) {
  const { feeds, cache, length, metrics } = deps;
  const inflight = new Map<string, Promise<void>>();
  const reads = metrics.counter("feedline_feed_reads_total", "Home feed pages served, by where they came from.");
  const rebuilds = metrics.counter("feedline_cache_rebuilds_total", "Home feed caches rebuilt from Cassandra.");

  async function rebuild(userId: string) {
    const token = crypto.randomUUID();
    // The lock keeps other processes from starting a rebuild meanwhile; should it expire (a
    // stalled rebuild), the token makes the newer rebuild the only one that can finish.
    if (!(await cache.lock(userId, token, 10_000))) return; // another process is on it
    try {
      await cache.startRebuild(userId, token);
      const items = await feeds.feed(userId, length + 1);
      if (await cache.finishRebuild(userId, token, items.slice(0, length), items.length <= length)) rebuilds.inc();
    } finally {
      await cache.unlock(userId, token);
    }
  }

  /** Concurrent misses for one user share one rebuild. */
  function rebuildOnce(userId: string) {
    let running = inflight.get(userId);
    if (!running) {
      running = rebuild(userId).finally(() => inflight.delete(userId));
      inflight.set(userId, running);
    }
    return running;
  }

  const fromCassandra = async (userId: string, n: number, after?: FeedKey) => (await feeds.feed(userId, n, after)).map(toWireItem);

  return {
    /** The feed's retained length N. */
    length,
    /** Builds the user's cache from Cassandra now, as a miss does in the background (one rebuild per user at a time). */
    rebuild: rebuildOnce,
    /** Up to `n` items of the user's home feed after `after` (newest first). */
    async home(userId: string, n: number, after?: FeedKey): Promise<WireItem[]> {
      if (!after) deps.onRead?.(userId);
      try {
        const page = await cache.page(userId, n, after);
        if (!page) {
          // A miss (or a rebuild in progress elsewhere): this page is one small read from
          // Cassandra, and the cache is rebuilt once, off the request path, for the next ones.
          // Waiting for the rebuild (the whole retained feed) made a miss slower than the page.
          rebuildOnce(userId).catch((err) => console.warn(`[feed] rebuilding the cache of ${userId}: ${err instanceof Error ? err.message : err}`));
          reads.inc({ source: "cassandra" });
          return fromCassandra(userId, n, after);
        }
        if (page.items.length < n && !page.complete) {
          const last = page.items.at(-1);
          const from = last ? positionOf(last) : after;
          reads.inc({ source: "cache+cassandra" });
          return [...page.items, ...(await fromCassandra(userId, n - page.items.length, from))];
        }
        reads.inc({ source: "cache" });
        return page.items;
      } catch (err) {
        if (outageOf(err) !== "redis") throw err;
        reads.inc({ source: "cassandra" }); // losing Redis loses no data, only speed
        return fromCassandra(userId, n, after);
      }
    },

    /** Up to `n` of the user's own activities after `after`, from Cassandra. */
    async profile(userId: string, n: number, after?: FeedKey): Promise<WireItem[]> {
      const [user, activities] = await Promise.all([feeds.getUser(userId), feeds.activities(userId, n, after)]);
      if (!user) return [];
      return activities.map((a) => toWireItem({ ...a, actorHandle: user.handle }));
    },
  };
}

export type FeedReader = ReturnType<typeof createFeedReader>;
