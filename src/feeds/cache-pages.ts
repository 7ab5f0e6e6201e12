import { createRegistry, type RedisClient } from "../clients/redis";
import type { CachedItem, FeedKey, WireItem } from "../model/feed";
import { accountKeys, cacheKeys, triples, rebuildLock, register, registryName, runScript } from "./cache-keys";
import { unlockLua } from "./cache-scripts";
import type { Source } from "./store";

/**
 * The reads of the home feed cache (the layout is described in cache.ts): a page in one round
 * trip, and the rebuild from Cassandra on a miss, fenced by a token and serialized by a short lock.
 * With `kind: "account"`, the same for pulled accounts' caches (accountKeys), which writers update
 * whether or not anyone registered them, so they are not registered.
 */
export function createCachePages({ redis, length, ttlSeconds, kind = "home" }: { redis: RedisClient; length: number; ttlSeconds: number; kind?: "home" | "account" }) {
  const registered = kind === "home";
  const keys = registered ? cacheKeys : accountKeys;
  const registry = createRegistry(redis, registryName);
  const withLock = (userId: string): [string, string, string] => {
    const both = keys(userId);
    return [...both, rebuildLock(both)];
  };
  /**
   * Users whose registry entry this process raised less than 30 s ago: when, and the raise.
   * `register` puts the entry 60 s past the cache's expiry, so a cache created or slid within 30 s
   * of a raise expires before the entry still: it need not be raised again (saving a command on
   * most pages, and on a rebuild's finish, whose start has just raised it). So every cache's entry
   * outlives the cache by 30 s at least, whichever process slid it last: a page sends a raise that
   * is due with its script, in one round trip, and the entry of the cache's last raise covers it
   * until the new one lands; a page whose raise fails drops the cache it slid. A rebuild's start
   * does the same (startRebuild). Raises only ever increase the entry (ZADD GT), whichever process
   * makes them. A raise that fails is forgotten, and made again by the next call. `always`: raised
   * whatever was raised lately, for a command that creates a cache: Redis may have lost the entry
   * (a restart) since this process raised it, and a cache created unregistered would miss every
   * write made while it lives.
   */
  const raised = new Map<string, { at: number; raising: Promise<void> }>();
  function raiseIfDue(userId: string, always = false): Promise<void> | undefined {
    if (!registered) return undefined;
    const now = Date.now();
    const last = raised.get(userId);
    if (last && now - last.at < 30_000 && !always) return last.raising;
    if (raised.size >= 100_000) raised.clear();
    const raising = register(registry, userId, ttlSeconds).catch((err) => {
      if (raised.get(userId)?.raising === raising) raised.delete(userId);
      throw err;
    });
    raised.set(userId, { at: now, raising });
    return raising;
  }
  /**
   * Runs a script on the user's cache with the registry's raise, when due (or `always`), in one
   * round trip. Should the raise fail, `undo` takes back what the script did (from its reply), and
   * the raise's error is thrown: a cache must not live unregistered.
   */
  async function withRaise<T>(userId: string, always: boolean, script: () => Promise<T>, undo: (reply: T) => Promise<void>): Promise<T> {
    const [registration, reply] = await Promise.allSettled([raiseIfDue(userId, always), script()]);
    if (registration.status === "rejected") {
      if (reply.status === "fulfilled") await undo(reply.value);
      throw registration.reason;
    }
    if (reply.status === "rejected") throw reply.reason;
    return reply.value;
  }
  /** Releases the rebuild's lock if it still holds `token` (a rebuild that failed before it could finish). */
  async function unlock(userId: string, token: string) {
    await redis.eval(unlockLua, 1, rebuildLock(keys(userId)), token);
  }
  return {
    /**
     * Reader: one page in one round trip (with the registry entry's raise when one is due), or null
     * when the cache is missing or still being built. Slides the idle expiry. `complete` says
     * whether the set holds the whole feed (so running out of items means the end, not a trip to
     * Cassandra); `sources`, the pulled accounts the feed merges in (hybrid fan-out).
     */
    async page(userId: string, limit: number, after?: FeedKey) {
      const args = [ttlSeconds, limit, after ? after.createdAt.getTime() : "", after?.id ?? ""];
      // The page slides the cache's expiry: until a due raise lands, the entry of the cache's last
      // raise still covers it. Should the raise fail, a cache the page slid would outlive its
      // entry, and writers would pass it by: it is dropped.
      const reply = (await withRaise(userId, false, () => runScript(redis, "feedPage", keys(userId), ...args), async (slid) => {
        if (slid) await redis.del(...keys(userId)).catch((err) => console.warn(`[feed] the cache of ${userId} outlives its registration, and dropping it failed: ${err instanceof Error ? err.message : err}`));
      })) as null | [complete: number, items: string, sources: string, version: string];
      if (!reply) return null;
      return { items: itemsOf(reply[1]), complete: reply[0] === 1, sources: reply[2] ? reply[2].split(",") : [], version: reply[3] };
    },

    /** The cache's version, as `page` returns it (null when there is no cache): it changes with every change to the cache. */
    async version(userId: string) {
      const [inc, n] = await redis.hmget(keys(userId)[1], "__inc", "__n");
      return inc && n ? `${inc}:${n}` : null;
    },

    /**
     * Reader, on a miss: takes the rebuild's lock for `lockMs` (false, doing nothing, when another
     * rebuild holds it: only one process rebuilds a cache at a time), and marks the cache as being
     * built by this rebuild (`token`; writers start landing in it at once). Then `finishRebuild`
     * merges what was read from Cassandra without undoing those writes. Only the rebuild whose
     * token the cache holds can finish it; should the lock expire first (a stalled rebuild), a newer
     * rebuild takes the cache over and the stalled one merges nothing.
     */
    async startRebuild(userId: string, token: string, lockMs: number) {
      // The registration need only land before the rebuild reads Cassandra: a writer that did not
      // see it wrote Cassandra before it landed, so before that read, which then holds the write.
      // Should the raise fail, the cache must not be built: the lock goes back if the script took it.
      const started = await withRaise(userId, true, () => runScript(redis, "feedRebuildStart", withLock(userId), ttlSeconds, token, lockMs), async (took) => {
        if (took === 1) await unlock(userId, token).catch(() => {});
      });
      return started === 1;
    },
    /**
     * Returns false when another rebuild has started since this one (its token replaced this one's):
     * nothing was merged. Releases the lock if this rebuild still holds it.
     * `sources`: the pulled accounts the feed merges in, as Cassandra had them (feed_sources).
     */
    async finishRebuild(userId: string, token: string, items: CachedItem[], complete: boolean, sources: Source[] = []) {
      await raiseIfDue(userId);
      const pulled = sources.flatMap((s) => [s.userId, s.ts]);
      return (await runScript(redis, "feedRebuildFinish", withLock(userId), length, ttlSeconds, complete ? 1 : 0, token, sources.length, ...pulled, ...triples(items))) === 1;
    },
    unlock,
  };
}

export type CachePages = ReturnType<typeof createCachePages>;

/**
 * A page's items from the page script's entries: "<write time> <json>", one per line. A removal
 * marker ("<write time> ", nothing after it) is never in the set, and is skipped should one be.
 */
export function itemsOf(entries: string): WireItem[] {
  let json = "";
  for (const entry of entries === "" ? [] : entries.split("\n")) {
    const item = entry.slice(entry.indexOf(" ") + 1);
    if (item) json += json ? `,${item}` : item;
  }
  return JSON.parse(`[${json}]`) as WireItem[];
}
