import { logOutages, type RedisClient, registered } from "../clients/redis";
import { type WireItem } from "../model/feed";

/**
 * Live timelines over Redis pub/sub. A subscribed user is registered in `feed:live` (a sorted
 * set scored by expiry, refreshed while the subscription is open); workers publish what changed
 * in a feed on `feed:live:{user}` only for registered users (one ZMSCORE per fan-out tells
 * which), so a celebrity's fan-out publishes to its live followers only. Pub/sub is at most
 * once: what a connection misses while it is away, the feed itself gives back (src/read/live-home.ts).
 */
export type LiveEvent = { type: "add"; item: WireItem } | { type: "remove"; id: string };

const registry = "feed:live";
const registrationMs = 60_000;
const channel = (userId: string) => `feed:live:{${userId}}`;

export function createLiveFeed({ redis }: { redis: RedisClient }) {
  let subscriber: RedisClient | undefined;
  const listeners = new Map<string, Set<(event: LiveEvent) => void>>();

  function connectSubscriber() {
    if (subscriber) return subscriber;
    subscriber = redis.duplicate();
    logOutages(subscriber, "live"); // reconnects by itself; ioredis restores the subscriptions
    subscriber.on("message", (ch: string, message: string) => {
      const userId = /^feed:live:\{(.+)\}$/.exec(ch)?.[1];
      const event = JSON.parse(message) as LiveEvent;
      for (const listener of (userId && listeners.get(userId)) || []) listener(event);
    });
    return subscriber;
  }

  return {
    /** Worker: tells every target with an open subscription what changed (one registry look-up per 10,000 targets). */
    async publish(userIds: string[], events: LiveEvent[]) {
      if (userIds.length === 0 || events.length === 0) return;
      const live = await registered(redis, registry, userIds);
      if (live.length === 0) return;
      const messages = events.map((e) => JSON.stringify(e));
      const pipeline = redis.pipeline();
      for (const u of live) for (const message of messages) pipeline.publish(channel(u), message);
      await pipeline.exec();
    },

    /**
     * API: listens to the user's feed from the moment this resolves (the Redis subscription and
     * the registration are in place), and returns the events as they come until `signal` aborts.
     */
    async subscribe(userId: string, signal?: AbortSignal): Promise<AsyncGenerator<LiveEvent>> {
      const queue: LiveEvent[] = [];
      let wake: (() => void) | undefined;
      const listener = (event: LiveEvent) => {
        queue.push(event);
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
      return (async function* () {
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
      })();
    },

    async close() {
      await subscriber?.quit().catch(() => {});
    },
  };
}

export type LiveFeed = ReturnType<typeof createLiveFeed>;
