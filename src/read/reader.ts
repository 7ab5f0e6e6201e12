import type { Metrics } from "../metrics";
import type { CachePages } from "../feeds/cache-pages";
import type { FeedStore, Source } from "../feeds/store";
import { outageOf } from "../clients/outage";
import { type FeedItem, type FeedKey, type Item, type Stored, type WireItem, positionOf, toWireItem } from "../model/feed";
import type { Enrich } from "./enrich";
import { comesAfter, mergePages } from "./merge";

/**
 * The read side of home feeds: a page is one round trip to Redis, and one more when the feed
 * pulls in huge accounts (hybrid fan-out: their newest activities are merged in at read time,
 * from each account's own cache; docs/stream.md, "Huge accounts"). On a missing or expired cache
 * the newest `fill` items are read from Cassandra once: the cache is rebuilt from them (one
 * rebuild per cache at a time: single-flight in the process, a short Redis lock across processes)
 * and a first page is served from the same read. Pages past what a cache holds, or any page while
 * Redis is unreachable, come from Cassandra in the same order. Never PostgreSQL. Every page is
 * served rendered (`enrich`, src/read/enrich.ts).
 */
export function createFeedReader(deps: {
  feeds: FeedStore;
  /** Home feeds' caches. */
  cache: CachePages;
  /** Pulled accounts' caches of their own activities (`createCachePages({ kind: "account" })`). */
  accounts: CachePages;
  /** The feed's retained length N. */
  length: number;
  /** How many of the newest items a rebuild loads (at most `length`; default `length`). */
  fill?: number;
  metrics: Metrics;
  enrich: Enrich;
  /** Called on each first page of a home feed (the upkeep, src/fanout/upkeep.ts). */
  onRead?: (userId: string) => void;
}) {
  const { feeds, length, metrics, enrich } = deps;
  const fill = Math.min(deps.fill ?? length, length);
  const reads = metrics.counter("feedline_feed_reads_total", "Home feed pages served, by where they came from.");
  const rebuilds = metrics.counter("feedline_cache_rebuilds_total", "Home feed caches rebuilt from Cassandra.");

  /** A home feed: the rows the stream pushed into it, and the pulled accounts it merges in. */
  const home = cached({
    cache: deps.cache,
    load: async (userId, n, after) => {
      const [items, sources] = await Promise.all([feeds.feed(userId, n, after), feeds.sources(userId)]);
      return { items, sources };
    },
    onRebuild: () => rebuilds.inc(),
    onRead: (source) => reads.inc({ source }),
  });

  /** A pulled account's own activities, as its followers' pages show them. */
  const account = cached({
    cache: deps.accounts,
    load: async (userId, n, after) => {
      const [user, activities] = await Promise.all([feeds.getUser(userId), feeds.activities(userId, n, after)]);
      // Its activities wait for its user row (as a push would): none shows before the handle is known.
      return { items: user ? activities.map((a) => ({ ...a, actorHandle: user.handle })) : [], sources: [] };
    },
  });

  /**
   * Up to `n` items of the user's home feed after `after`, before rendering: the pushed rows
   * merged with every pulled account's items after the same position (each list holds the first
   * `n` of its own after it, so the first `n` of the merge are exact).
   */
  async function homeItems(userId: string, n: number, after?: FeedKey): Promise<WireItem[]> {
    if (!after) deps.onRead?.(userId);
    const own = await home(userId, n, after);
    if (own.sources.length === 0) return own.items;
    const pulled = await Promise.all(own.sources.map((s) => pulledItems(s, n, after)));
    return mergePages(n, own.items, pulled);
  }

  /**
   * The newest `fill` items of the pulled accounts this process's pages merged in lately, each
   * with the version of the account cache it was read from: while the version holds (one small
   * HMGET, not a page script and a parse per account and page), the items are the cache's.
   */
  const heads = new Map<string, { version: string; items: WireItem[]; complete: boolean }>();

  /** A pulled account's first `n` items after `after`: from its head while that is current and covers them, else from its cache. */
  async function pulledItems(id: string, n: number, after?: FeedKey): Promise<WireItem[]> {
    const head = heads.get(id);
    if (head && head.version === (await deps.accounts.version(id))) {
      const rest = after ? head.items.filter((i) => comesAfter(i, after)) : head.items;
      if (rest.length >= n || head.complete) return rest.slice(0, n);
    }
    if (after) return (await account(id, n, after)).items;
    const page = await account(id, Math.max(n, fill), undefined);
    if (page.version) {
      if (heads.size >= 10_000) heads.clear();
      heads.set(id, { version: page.version, items: page.items, complete: page.complete === true });
    }
    return page.items.slice(0, n);
  }

  return {
    /** The feed's retained length N. */
    length,
    /** Renders items as pages serve them (src/read/enrich.ts): what live events send. */
    enrich,
    /** Builds the user's cache from Cassandra now, as a miss does (one rebuild per user at a time). */
    rebuild: (userId: string) => home.rebuild(userId),
    /** Up to `n` items of the user's home feed after `after` (newest first), rendered. */
    home: async (userId: string, n: number, after?: FeedKey): Promise<Item[]> => enrich(await homeItems(userId, n, after)),
    /** The pulled accounts the user's feed merges in now (live streams listen to them). */
    sources: async (userId: string) => (await home(userId, 0)).sources,

    /** Up to `n` of the user's own activities after `after`, from Cassandra, rendered. */
    async profile(userId: string, n: number, after?: FeedKey): Promise<Item[]> {
      const [user, activities] = await Promise.all([feeds.getUser(userId), feeds.activities(userId, n, after)]);
      if (!user) return [];
      return enrich(activities.map((a) => toWireItem({ ...a, actorHandle: user.handle })));
    },
  };

  /**
   * Pages of one kind of cached list (home feeds, pulled accounts): from Redis, rebuilt from
   * Cassandra (`load`) on a miss, continued from Cassandra past what the cache holds, and read
   * from Cassandra alone while Redis is unreachable.
   */
  function cached(kind: {
    cache: CachePages;
    load: (id: string, n: number, after?: FeedKey) => Promise<{ items: Stored<FeedItem>[]; sources: Source[] }>;
    onRebuild?: () => void;
    onRead?: (source: "cache" | "cassandra" | "cache+cassandra") => void;
  }) {
    const { cache, load } = kind;
    const inflight = new Map<string, Promise<Awaited<ReturnType<typeof load>> | undefined>>();

    /**
     * Loads the newest `fill` items into the cache; returns what it read (up to fill + 1 items,
     * newest first), or undefined when another process holds the rebuild.
     */
    async function rebuild(id: string) {
      const token = crypto.randomUUID();
      // The lock keeps other processes from starting a rebuild meanwhile; should it expire (a
      // stalled rebuild), the token makes the newer rebuild the only one that can finish.
      if (!(await cache.lock(id, token, 10_000))) return undefined; // another process is on it
      try {
        await cache.startRebuild(id, token);
        const read = await load(id, fill + 1);
        if (await cache.finishRebuild(id, token, read.items.slice(0, fill), read.items.length <= fill, read.sources)) kind.onRebuild?.();
        return read;
      } finally {
        // Off the page's path: should it fail, the lock expires by itself.
        cache.unlock(id, token).catch(() => {});
      }
    }

    /** Concurrent misses for one cache share one rebuild. */
    function rebuildOnce(id: string) {
      let running = inflight.get(id);
      if (!running) {
        running = rebuild(id).finally(() => inflight.delete(id));
        inflight.set(id, running);
      }
      return running;
    }

    const warnRebuild = (id: string) => (err: unknown) => {
      console.warn(`[feed] rebuilding the cache of ${id}: ${err instanceof Error ? err.message : err}`);
      return undefined;
    };
    const fromCassandra = async (id: string, n: number, after?: FeedKey) => {
      const read = await load(id, n, after);
      return { items: read.items.map(toWireItem), sources: read.sources.map((s) => s.userId) };
    };

    /**
     * Up to `n` items after `after` as the cache or Cassandra hold them, and the pulled accounts
     * (home feeds); from a cache hit also whether it holds the whole list, and its version.
     */
    async function page(id: string, n: number, after?: FeedKey): Promise<{ items: WireItem[]; sources: string[]; complete?: boolean; version?: string }> {
      try {
        const hit = await cache.page(id, n, after);
        if (!hit) {
          // A miss (or a rebuild in progress elsewhere). A first page comes from the rebuild's
          // own read of the newest items: one read of Cassandra both serves it and fills the
          // cache. A deeper page is one small read of its own, the rebuild going on behind it.
          kind.onRead?.("cassandra");
          if (!after && n <= fill + 1) {
            const read = await rebuildOnce(id).catch(warnRebuild(id));
            if (read) return { items: read.items.slice(0, n).map(toWireItem), sources: read.sources.map((s) => s.userId) };
          } else {
            rebuildOnce(id).catch(warnRebuild(id));
          }
          return fromCassandra(id, n, after);
        }
        if (hit.items.length < n && !hit.complete) {
          const last = hit.items.at(-1);
          const from = last ? positionOf(last) : after;
          kind.onRead?.("cache+cassandra");
          return { items: [...hit.items, ...(await fromCassandra(id, n - hit.items.length, from)).items], sources: hit.sources };
        }
        kind.onRead?.("cache");
        return hit;
      } catch (err) {
        if (outageOf(err) !== "redis") throw err;
        kind.onRead?.("cassandra"); // losing Redis loses no data, only speed
        return fromCassandra(id, n, after);
      }
    }

    return Object.assign(page, { rebuild: async (id: string) => void (await rebuildOnce(id)) });
  }
}

export type FeedReader = ReturnType<typeof createFeedReader>;
