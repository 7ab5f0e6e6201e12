import type { CachePages } from "../feeds/cache-pages";
import type { Source } from "../feeds/store";
import { outageOf } from "../clients/outage";
import { type CachedItem, type FeedKey, type WireItem, positionOf, wireOf } from "../model/feed";

/**
 * Pages of one kind of cached list (home feeds, pulled accounts): from Redis, rebuilt from
 * Cassandra (`load`) on a miss, continued from Cassandra past what the cache holds, and read
 * from Cassandra alone while Redis is unreachable.
 */
export function cachedList(kind: {
  /** How many of the newest items a rebuild loads. */
  fill: number;
  cache: CachePages;
  load: (id: string, n: number, after?: FeedKey) => Promise<{ items: CachedItem[]; sources: Source[] }>;
  onRebuild?: () => void;
  onRead?: (source: "cache" | "cassandra" | "cache+cassandra") => void;
  /** Asked on a miss: when true, the list is not to be read from Cassandra now (`behind` in the answer). */
  behind?: (id: string) => Promise<boolean>;
}) {
  const { cache, load, fill } = kind;
  /** The rebuild running in this process per list: what it read, once read, and when it is done. */
  const inflight = new Map<string, Promise<Rebuild | undefined>>();
  type Rebuild = { read: Awaited<ReturnType<typeof load>>; done: Promise<void> };

  const warnRebuild = (id: string) => (err: unknown) => {
    console.warn(`[feed] rebuilding the cache of ${id}: ${err instanceof Error ? err.message : err}`);
    return undefined;
  };

  /**
   * Loads the newest `fill` items into the cache. Resolves once they are read from Cassandra, with
   * what it read (up to fill + 1 items, newest first) and `done`, the merge into Redis going on
   * behind it (it never rejects: a failure is logged, and the next miss tries again); undefined when
   * another process holds the rebuild.
   */
  async function rebuild(id: string): Promise<Rebuild | undefined> {
    const token = crypto.randomUUID();
    // The lock keeps other processes from starting a rebuild meanwhile; should it expire (a
    // stalled rebuild), the token makes the newer rebuild the only one that can finish.
    if (!(await cache.startRebuild(id, token, 10_000))) return undefined; // another process is on it
    const released = () => void cache.unlock(id, token).catch(() => {}); // should that fail, the lock expires by itself
    let read: Rebuild["read"];
    try {
      read = await load(id, fill + 1);
    } catch (err) {
      released();
      throw err;
    }
    const done = cache
      .finishRebuild(id, token, read.items.slice(0, fill), read.items.length <= fill, read.sources)
      .then((finished) => void (finished && kind.onRebuild?.()))
      .catch((err) => {
        released();
        warnRebuild(id)(err);
      });
    return { read, done };
  }

  /** Concurrent misses for one cache share one rebuild, until it is done. */
  function rebuildOnce(id: string) {
    const running = inflight.get(id);
    if (running) return running;
    const started = rebuild(id);
    inflight.set(id, started);
    started
      .then((r) => r?.done)
      .catch(() => {})
      .finally(() => inflight.get(id) === started && inflight.delete(id));
    return started;
  }

  const fromCassandra = async (id: string, n: number, after?: FeedKey) => {
    const read = await load(id, n, after);
    return { items: read.items.map(wireOf), sources: read.sources.map((s) => s.userId) };
  };

  /**
   * Up to `n` items after `after` as the cache or Cassandra hold them, and the pulled accounts
   * (home feeds); from a cache hit also whether it holds the whole list, and its version.
   */
  async function page(id: string, n: number, after?: FeedKey): Promise<{ items: WireItem[]; sources: string[]; complete?: boolean; version?: string; behind?: boolean }> {
    try {
      const hit = await cache.page(id, n, after);
      if (!hit && (await kind.behind?.(id))) return { items: [], sources: [], behind: true };
      if (!hit) {
        // A miss (or a rebuild in progress elsewhere). A first page comes from the rebuild's
        // own read of the newest items: one read of Cassandra both serves it and fills the
        // cache. A deeper page is one small read of its own, the rebuild going on behind it.
        kind.onRead?.("cassandra");
        if (!after && n <= fill + 1) {
          // Answered once read: the merge into Redis goes on behind the page.
          const read = (await rebuildOnce(id).catch(warnRebuild(id)))?.read;
          if (read) return { items: read.items.slice(0, n).map(wireOf), sources: read.sources.map((s) => s.userId) };
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

  return Object.assign(page, { rebuild: async (id: string) => void (await (await rebuildOnce(id))?.done) });
}
