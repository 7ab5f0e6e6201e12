import { createRegistry, type RedisClient } from "../clients/redis";
import type { FeedItem, FeedKey, Stored, WireItem } from "../model/feed";
import { accountKeys, cacheKeys, quads, register, registryName, runScript } from "./cache-keys";
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
  /**
   * Users whose registry entry this process raised less than 30 s ago (ms). `register` puts the
   * entry 60 s past the cache's expiry, so a page slid within 30 s of a raise leaves the entry
   * still at or past the cache's new expiry: it need not be raised again (saving a command on
   * most pages). Raises only ever increase the entry (ZADD GT), whichever process makes them.
   */
  const raised = new Map<string, number>();
  const raiseDue = (userId: string) => {
    if (!registered) return false;
    const now = Date.now();
    if (now - (raised.get(userId) ?? 0) < 30_000) return false;
    if (raised.size >= 100_000) raised.clear();
    raised.set(userId, now);
    return true;
  };
  return {
    /**
     * Reader: one page in one round trip (two when the registry entry is due a raise), or null when the cache is missing or still being
     * built. Slides the idle expiry. `complete` says whether the set holds the whole feed (so
     * running out of items means the end, not a trip to Cassandra); `sources`, the pulled
     * accounts the feed merges in (hybrid fan-out).
     */
    async page(userId: string, limit: number, after?: FeedKey) {
      const args = [ttlSeconds, limit, after ? after.createdAt.getTime() : "", after?.id ?? ""];
      // The page slides the expiry, so the registry entry is raised first, when due.
      if (raiseDue(userId)) await register(registry, userId, ttlSeconds);
      const reply = (await runScript(redis, "feedPage", keys(userId), ...args)) as null | [complete: number, items: string, sources: string, version: string];
      if (!reply) return null;
      return { items: itemsOf(reply[1]), complete: reply[0] === 1, sources: reply[2] ? reply[2].split(",") : [], version: reply[3] };
    },

    /** The cache's version, as `page` returns it (null when there is no cache): it changes with every change to the cache. */
    async version(userId: string) {
      const [inc, n] = await redis.hmget(keys(userId)[1], "__inc", "__n");
      return inc && n ? `${inc}:${n}` : null;
    },

    /**
     * Reader, on a miss: marks the cache as being built by this rebuild (`token`; writers start
     * landing in it at once), then `finishRebuild` merges what was read from Cassandra without
     * undoing those writes. Only the rebuild whose token the cache holds can finish it.
     */
    async startRebuild(userId: string, token: string) {
      if (registered) await register(registry, userId, ttlSeconds);
      await runScript(redis, "feedRebuildStart", keys(userId), ttlSeconds, token);
    },
    /**
     * Returns false when another rebuild has started since this one (its token replaced this one's): nothing was merged.
     * `sources`: the pulled accounts the feed merges in, as Cassandra had them (feed_sources).
     */
    async finishRebuild(userId: string, token: string, items: Stored<FeedItem>[], complete: boolean, sources: Source[] = []) {
      if (registered) await register(registry, userId, ttlSeconds);
      const pulled = sources.flatMap((s) => [s.userId, s.ts]);
      return (await runScript(redis, "feedRebuildFinish", keys(userId), length, ttlSeconds, complete ? 1 : 0, token, sources.length, ...pulled, ...quads(items))) === 1;
    },

    /** A short lock so that only one process rebuilds a user's cache at a time (the token fences the rest). */
    async lock(userId: string, token: string, ms: number) {
      return (await redis.set(`${keys(userId)[0]}:lock`, token, "PX", ms, "NX")) === "OK";
    },
    async unlock(userId: string, token: string) {
      await redis.eval(unlockLua, 1, `${keys(userId)[0]}:lock`, token);
    },
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
