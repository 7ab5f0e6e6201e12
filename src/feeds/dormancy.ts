import { createRegistry, type RedisClient } from "../clients/redis";
import { cacheKeys } from "./cache-keys";

/** Far in the future: a dormant user stays dormant until they read. */
const forever = 8_640_000_000_000_000;

/**
 * Who reads their feed (docs/stream.md, "Inactive users"). In Redis, each split by user like the
 * other registries (src/clients/redis.ts):
 * - `feed:active:{<shard>}`: users who read (or arrived) within the window, scored by when that
 *   ends. Raised by a first page (at most every 10 minutes per user and process) and by a new
 *   user's own stream.
 * - `feed:dormant:{<shard>}`: users the fan-out of new activities skips, marked by the sweep
 *   (src/fanout/inactive.ts) once they have been out of `feed:active` for the window.
 * - `home:v2:{<user>}:catchup`: set while a returning user's feed is being completed from its
 *   sources; pages are merged from the sources meanwhile.
 * - `feed:active:since`: when `feed:active` started to be kept. Until it is a window old (a new
 *   deployment, or Redis lost), nobody is marked dormant: a missing entry proves nothing yet.
 *
 * Losing Redis costs work, never data: with these keys gone every user is written to again.
 */
export function createDormancy({ redis, windowMs }: { redis: RedisClient; windowMs: number }) {
  const active = createRegistry(redis, "feed:active");
  const dormant = createRegistry(redis, "feed:dormant");
  const catchingUp = (userId: string) => `${cacheKeys(userId)[0]}:catchup`;
  const since = "feed:active:since";
  /** Users this process raised lately (ms): a first page raises its user at most every 10 minutes. */
  const raised = new Map<string, number>();
  const due = Math.min(600_000, windowMs / 10);

  return {
    windowMs,
    /** The user reads now (or has just arrived): they count as reading for the window. */
    async seen(userId: string) {
      const now = Date.now();
      if (now - (raised.get(userId) ?? 0) < due) return;
      if (raised.size >= 100_000) raised.clear();
      raised.set(userId, now);
      await active.raise(userId, now + windowMs, now);
    },
    /** Worker: of these users, those the fan-out writes to (not dormant). */
    async awake(userIds: string[]) {
      if (userIds.length === 0) return userIds;
      const asleep = new Set(await dormant.registered(userIds));
      return asleep.size === 0 ? userIds : userIds.filter((u) => !asleep.has(u));
    },
    /** Reader: whether the user's feed may lack fan-out writes (dormant, or catching up). */
    async behind(userId: string) {
      const [asleep, marked] = await Promise.all([dormant.registered([userId]), redis.exists(catchingUp(userId))]);
      return asleep.length > 0 || marked === 1;
    },
    /** Catch-up, first: marks the feed as catching up, then lets the fan-out write to it again. */
    async wake(userId: string) {
      await redis.set(catchingUp(userId), "1");
      await dormant.drop(userId);
    },
    /** Catch-up, last: the feed is complete; pages read it again. */
    async caughtUp(userId: string) {
      await redis.del(catchingUp(userId));
    },
    /** Sweep: of these users, those neither reading nor new within the window, nor dormant already. */
    async idle(userIds: string[]) {
      const [reading, asleep] = await Promise.all([active.registered(userIds), dormant.registered(userIds)]);
      const skip = new Set([...reading, ...asleep]);
      return userIds.filter((u) => !skip.has(u));
    },
    /** Sweep: marks these users dormant and drops their caches (a page then finds them behind). */
    async sleep(userIds: string[]) {
      await Promise.all(userIds.map((u) => dormant.raise(u, forever)));
      await Promise.all(userIds.map((u) => redis.del(...cacheKeys(u))));
    },
    /** Sweep: whether `feed:active` has been kept for the window (it starts being kept now, if not). */
    async knownLongEnough(now = Date.now()) {
      await redis.set(since, String(now), "NX");
      return now - Number(await redis.get(since)) >= windowMs;
    },
  };
}

export type Dormancy = ReturnType<typeof createDormancy>;
