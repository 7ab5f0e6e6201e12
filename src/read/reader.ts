import type { Metrics } from "../metrics";
import type { CachePages } from "../feeds/cache-pages";
import type { FeedStore } from "../feeds/store";
import { type FeedKey, type Item, type UserObject, type WireItem, cachedItemOf, refKey, toWireItem } from "../model/feed";
import type { Enrich, LookUp } from "./enrich";
import { comesAfter, mergePages } from "./merge";
import { cachedList } from "./cached-list";
import type { Dormancy } from "../feeds/dormancy";
import { inParallel } from "../parallel";

/**
 * The read side of home feeds: a page is one round trip to Redis, and one more when the feed
 * pulls in huge accounts (hybrid fan-out: their newest activities are merged in at read time,
 * from each account's own cache; docs/stream.md, "Huge accounts"). On a missing or expired cache
 * the newest `fill` items are read from Cassandra once: the cache is rebuilt from them (one
 * rebuild per cache at a time: single-flight in the process, a short Redis lock across processes)
 * and a first page is served from the same read. Pages past what a cache holds, or any page while
 * Redis is unreachable, come from Cassandra in the same order. A returning inactive user's feed
 * lacks what was not written to it while they were away: until it is completed (src/fanout/inactive.ts),
 * its pages are merged from its sources instead. Never PostgreSQL. Every page is served rendered
 * (`enrich`, src/read/enrich.ts).
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
  /** Objects as pages render them (src/read/enrich.ts): the users' handles of profile pages and of pages merged from sources. */
  lookUp: LookUp;
  enrich: Enrich;
  /** Called on each first page of a home feed (the upkeep, src/fanout/upkeep.ts). */
  onRead?: (userId: string) => void;
  /** Inactive users (src/fanout/inactive.ts); without it, every feed is read as written. */
  inactive?: {
    /** Who reads (src/feeds/dormancy.ts): a first page counts as reading; a feed that is behind is merged from its sources. */
    dormancy: Pick<Dormancy, "seen" | "behind">;
    /** Queues the completion of a returning user's feed, behind the pages. */
    catchUp: (userId: string) => void;
  };
}) {
  const { feeds, length, metrics, enrich } = deps;
  const fill = Math.min(deps.fill ?? length, length);
  const reads = metrics.counter("feedline_feed_reads_total", "Home feed pages served, by where they came from.");
  const rebuilds = metrics.counter("feedline_cache_rebuilds_total", "Home feed caches rebuilt from Cassandra.");
  const readsFromSources = metrics.counter("feedline_feed_reads_from_sources_total", "Home feed pages of returning inactive users, merged from their sources while their feeds catch up.");

  /** A home feed: the rows the stream pushed into it, and the pulled accounts it merges in. */
  const home = cachedList({
    fill,
    cache: deps.cache,
    load: async (userId, n, after) => {
      const [items, sources] = await Promise.all([feeds.cachedFeed(userId, n, after), feeds.sources(userId)]);
      return { items, sources };
    },
    onRebuild: () => rebuilds.inc(),
    onRead: (source) => reads.inc({ source }),
    behind: deps.inactive && ((userId) => deps.inactive!.dormancy.behind(userId)),
  });

  /** A pulled account's own activities, as its followers' pages show them. */
  const account = cachedList({
    fill,
    cache: deps.accounts,
    load: async (userId, n, after) => {
      const [user, activities] = await Promise.all([feeds.getUser(userId), feeds.activities(userId, n, after)]);
      // Its activities wait for its user row (as a push would): none shows before the handle is known.
      return { items: user ? activities.map((a) => cachedItemOf({ ...a, actorHandle: user.handle })) : [], sources: [] };
    },
  });

  /**
   * Up to `n` items of the user's home feed after `after`, before rendering: the pushed rows
   * merged with every pulled account's items after the same position (each list holds the first
   * `n` of its own after it, so the first `n` of the merge are exact).
   */
  async function homeItems(userId: string, n: number, after?: FeedKey): Promise<WireItem[]> {
    if (!after) read(userId);
    const own = await home(userId, n, after);
    if (own.behind) return fromSources(userId, n, after);
    if (own.sources.length === 0) return own.items;
    const pulled = await Promise.all(own.sources.map((s) => pulledItems(s, n, after)));
    return mergePages(n, own.items, pulled);
  }

  /** A first page: the upkeep's trim, and the user counts as reading. */
  function read(userId: string) {
    deps.onRead?.(userId);
    deps.inactive?.dormancy.seen(userId).catch((err) => console.warn(`[feed] marking ${userId} as reading: ${err instanceof Error ? err.message : err}`));
  }

  /**
   * The page of a user whose feed may lack fan-out writes (dormant, or catching up: src/fanout/inactive.ts),
   * merged at read time from what the feed is defined by: the user's own activities and those of
   * everyone they follow (one Cassandra read per source, together, and their handles from the object cache); and the catch-up queued behind it.
   */
  async function fromSources(userId: string, n: number, after?: FeedKey): Promise<WireItem[]> {
    const sources = [userId, ...(await feeds.following(userId)).map((f) => f.userId)];
    // The sources' handles from the object cache, in one round trip, beside their activities.
    const handles = deps.lookUp(sources.map((id) => ({ type: "user" as const, id })), []);
    const lists: WireItem[][] = [];
    await inParallel(sources, 32, async (source) => {
      const activities = await feeds.activities(source, n, after);
      const user = (await handles).get(refKey({ type: "user", id: source })) as UserObject | null | undefined;
      if (user) lists.push(activities.map((a) => toWireItem({ ...a, actorHandle: user.handle })));
    });
    readsFromSources.inc();
    deps.inactive!.catchUp(userId); // after the page's own reads: it queues behind them
    return mergePages(n, [], lists);
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
    /** The pulled accounts the user's feed merges in now (live streams listen to them); opening a stream counts as reading. */
    async sources(userId: string) {
      read(userId);
      const own = await home(userId, 0);
      if (own.behind) deps.inactive?.catchUp(userId);
      return own.sources;
    },

    /**
     * Up to `n` of the user's own activities after `after`, from Cassandra, rendered; the user's
     * handle from the object cache, as pages merged from sources take their actors' handles (read
     * from Cassandra's row when Redis lacks it): none for a user that does not exist, or not yet.
     */
    async profile(userId: string, n: number, after?: FeedKey): Promise<Item[]> {
      const ref = { type: "user" as const, id: userId };
      const [looked, activities] = await Promise.all([deps.lookUp([ref], []), feeds.activities(userId, n, after)]);
      const user = looked.get(refKey(ref)) as UserObject | null | undefined;
      if (!user) return [];
      return enrich(activities.map((a) => toWireItem({ ...a, actorHandle: user.handle })));
    },
  };
}

export type FeedReader = ReturnType<typeof createFeedReader>;
