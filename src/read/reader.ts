import type { Metrics } from "../metrics";
import type { CachePages } from "../feeds/cache-pages";
import type { FeedStore } from "../feeds/store";
import { outageOf } from "../clients/outage";
import { type FeedItem, type FeedKey, type Item, type Stored, type WireItem, positionOf, toWireItem } from "../model/feed";
import type { Enrich } from "./enrich";

/**
 * The read side of home feeds: a page is one round trip to Redis. On a missing or expired cache
 * the newest `fill` items are read from Cassandra once: the cache is rebuilt from them (one rebuild
 * per user at a time: single-flight in the process, a short Redis lock across processes) and a
 * first page is served from the same read. Pages past what the cache holds, or any page while
 * Redis is unreachable, come from Cassandra in the same order. Never PostgreSQL. Every page is
 * served rendered (`enrich`, src/read/enrich.ts).
 */
export function createFeedReader(deps: {
  feeds: FeedStore;
  cache: CachePages;
  /** The feed's retained length N. */
  length: number;
  /** How many of the newest items a rebuild loads (at most `length`; default `length`). */
  fill?: number;
  metrics: Metrics;
  enrich: Enrich;
  /** Called on each first page of a home feed (the upkeep, src/fanout/upkeep.ts). */
  onRead?: (userId: string) => void;
}) {
  const { feeds, cache, length, metrics, enrich } = deps;
  const fill = Math.min(deps.fill ?? length, length);
  const inflight = new Map<string, Promise<Stored<FeedItem>[] | undefined>>();
  const reads = metrics.counter("feedline_feed_reads_total", "Home feed pages served, by where they came from.");
  const rebuilds = metrics.counter("feedline_cache_rebuilds_total", "Home feed caches rebuilt from Cassandra.");

  /**
   * Loads the user's newest `fill` items into the cache; returns what it read (up to fill + 1
   * items, newest first), or undefined when another process holds the rebuild.
   */
  async function rebuild(userId: string) {
    const token = crypto.randomUUID();
    // The lock keeps other processes from starting a rebuild meanwhile; should it expire (a
    // stalled rebuild), the token makes the newer rebuild the only one that can finish.
    if (!(await cache.lock(userId, token, 10_000))) return undefined; // another process is on it
    try {
      await cache.startRebuild(userId, token);
      const items = await feeds.feed(userId, fill + 1);
      if (await cache.finishRebuild(userId, token, items.slice(0, fill), items.length <= fill)) rebuilds.inc();
      return items;
    } finally {
      // Off the page's path: should it fail, the lock expires by itself.
      cache.unlock(userId, token).catch(() => {});
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

  const warnRebuild = (userId: string) => (err: unknown) => {
    console.warn(`[feed] rebuilding the cache of ${userId}: ${err instanceof Error ? err.message : err}`);
    return undefined;
  };
  const fromCassandra = async (userId: string, n: number, after?: FeedKey) => (await feeds.feed(userId, n, after)).map(toWireItem);

  return {
    /** The feed's retained length N. */
    length,
    /** Renders items as pages serve them (src/read/enrich.ts): what live events send. */
    enrich,
    /** Builds the user's cache from Cassandra now, as a miss does (one rebuild per user at a time). */
    rebuild: async (userId: string) => void (await rebuildOnce(userId)),
    /** Up to `n` items of the user's home feed after `after` (newest first), rendered. */
    home: async (userId: string, n: number, after?: FeedKey): Promise<Item[]> => enrich(await home(userId, n, after)),

    /** Up to `n` of the user's own activities after `after`, from Cassandra, rendered. */
    async profile(userId: string, n: number, after?: FeedKey): Promise<Item[]> {
      const [user, activities] = await Promise.all([feeds.getUser(userId), feeds.activities(userId, n, after)]);
      if (!user) return [];
      return enrich(activities.map((a) => toWireItem({ ...a, actorHandle: user.handle })));
    },
  };

  /** The home page's items as the cache or Cassandra hold them, before rendering. */
  async function home(userId: string, n: number, after?: FeedKey): Promise<WireItem[]> {
    if (!after) deps.onRead?.(userId);
    try {
      const page = await cache.page(userId, n, after);
      if (!page) {
        // A miss (or a rebuild in progress elsewhere). A first page comes from the rebuild's
        // own read of the newest items: one read of Cassandra both serves it and fills the
        // cache. A deeper page is one small read of its own, the rebuild going on behind it.
        reads.inc({ source: "cassandra" });
        if (!after && n <= fill + 1) {
          const items = await rebuildOnce(userId).catch(warnRebuild(userId));
          if (items) return items.slice(0, n).map(toWireItem);
        } else {
          rebuildOnce(userId).catch(warnRebuild(userId));
        }
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
  }
}

export type FeedReader = ReturnType<typeof createFeedReader>;
