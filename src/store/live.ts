import type { CachedItem } from "./feed-cache";
import { logOutages, type RedisClient, registered } from "./redis";

/**
 * Live timelines over Redis pub/sub. A subscribed user is registered in `feed:live` (a sorted
 * set scored by expiry, refreshed while the subscription is open); workers publish a new item
 * on `feed:live:{user}` only for registered users (one ZMSCORE per fan-out tells which), so a
 * celebrity's fan-out publishes to its live followers only.
 */
const registry = "feed:live";
const registrationMs = 60_000;
const channel = (userId: string) => `feed:live:{${userId}}`;

export function createLiveFeed({ redis }: { redis: RedisClient }) {
  let subscriber: RedisClient | undefined;
  const listeners = new Map<string, Set<(item: CachedItem) => void>>();

  function connectSubscriber() {
    if (subscriber) return subscriber;
    subscriber = redis.duplicate();
    logOutages(subscriber, "live"); // reconnects by itself; ioredis restores the subscriptions
    subscriber.on("message", (ch: string, message: string) => {
      const userId = /^feed:live:\{(.+)\}$/.exec(ch)?.[1];
      const item = JSON.parse(message) as CachedItem;
      for (const listener of (userId && listeners.get(userId)) || []) listener(item);
    });
    return subscriber;
  }

  return {
    /** Worker: tells every target with an open subscription about new items (one registry look-up per 10,000 targets). */
    async publish(userIds: string[], items: CachedItem[]) {
      if (userIds.length === 0 || items.length === 0) return;
      const live = await registered(redis, registry, userIds);
      if (live.length === 0) return;
      const messages = items.map((item) => JSON.stringify(item));
      const pipeline = redis.pipeline();
      for (const u of live) for (const message of messages) pipeline.publish(channel(u), message);
      await pipeline.exec();
    },

    /** API: the user's new items as they are written, until `signal` aborts. */
    async *subscribe(userId: string, signal?: AbortSignal): AsyncGenerator<CachedItem> {
      const queue: CachedItem[] = [];
      let wake: (() => void) | undefined;
      const listener = (item: CachedItem) => {
        queue.push(item);
        wake?.();
      };
      const set = listeners.get(userId) ?? new Set();
      listeners.set(userId, set);
      set.add(listener);
      const sub = connectSubscriber();
      if (set.size === 1) await sub.subscribe(channel(userId));
      const register = () => redis.zadd(registry, Date.now() + registrationMs, userId).catch(() => 0);
      await register();
      const keepAlive = setInterval(register, registrationMs / 3);
      const aborted = new Promise<void>((resolve) => signal?.addEventListener("abort", () => resolve(), { once: true }));
      try {
        while (!signal?.aborted) {
          while (queue.length) yield queue.shift()!;
          await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
          wake = undefined;
        }
      } finally {
        clearInterval(keepAlive);
        set.delete(listener);
        if (set.size === 0) {
          listeners.delete(userId);
          await sub.unsubscribe(channel(userId)).catch(() => {});
        }
      }
    },

    async close() {
      await subscriber?.quit().catch(() => {});
    },
  };
}

export type LiveFeed = ReturnType<typeof createLiveFeed>;
