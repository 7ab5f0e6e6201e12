import { Cluster } from "ioredis";
import { createRegistry, duplicateRedis, logOutages, type RedisClient } from "../clients/redis";
import { AppError } from "../errors";
import type { WireItem } from "../model/feed";
import { claimConnection } from "./live-scripts";
import type { Metrics } from "../metrics";

/**
 * Live timelines (and notifications) over Redis pub/sub. A subscribed user is registered in
 * `feed:live:{<shard>}` (a registry split by user, scored by expiry, refreshed while the
 * subscription is open: src/clients/redis.ts); workers publish what changed
 * in a feed on `feed:live:{user}` only for registered users (one ZMSCORE per fan-out tells
 * which), so a celebrity's fan-out publishes to its live followers only. Pub/sub is at most
 * once: what a connection misses while it is away, the feed itself gives back (src/read/live-home.ts).
 *
 * A pulled account's activities (hybrid fan-out) are published once, on `feed:acct:{account}`,
 * whoever follows it: a stream listens to the accounts its feed pulls in (`listenTo`), and each
 * API process subscribes to an account's channel once however many of its streams listen to it.
 *
 * On a Redis Cluster, pub/sub is sharded (SPUBLISH, SSUBSCRIBE): a message goes to the node that
 * owns its channel's hash slot (every channel is tagged with its user or account) rather than to
 * every node over the cluster bus, and the subscriber holds one connection per master.
 *
 * Bounds: a user holds at most `maxPerUser` streams across every API process (counted in
 * `feed:live:{user}:conns`, entries expiring with their registration), and a stream whose reader
 * falls `maxQueue` events behind is ended (its client reconnects and resumes from the feed).
 */
export type LiveEvent =
  | { type: "add"; item: WireItem }
  | { type: "remove"; id: string }
  /** The user's notifications changed: a group (by id), or their marks (no id). Streams of notifications only listen to these. */
  | { type: "notification"; groupId?: string }
  /** The pulled accounts the user's home feed merges in changed (hybrid fan-out): a live home stream listens to theirs. */
  | { type: "sources" };

/** The registry of users with an open stream. */
export const liveRegistryName = "feed:live";
const registrationMs = 60_000;
const connections = (userId: string) => `feed:live:{${userId}}:conns`;

export function createLiveFeed({ redis, maxPerUser, maxQueue, metrics }: { redis: RedisClient; maxPerUser: number; maxQueue: number; metrics?: Metrics }) {
  // The client prefixes keys but not channels, which Redis shares across every database and user.
  const prefix = redis.options.keyPrefix ?? "";
  const channel = (userId: string) => `${prefix}feed:live:{${userId}}`;
  const accountChannel = (accountId: string) => `${prefix}feed:acct:{${accountId}}`;
  const registry = createRegistry(redis, liveRegistryName);
  const sharded = redis instanceof Cluster;
  // ioredis prefixes a sharded channel as a key (a plain one it leaves alone), so sharded commands take the name without it.
  const bare = (ch: string) => ch.slice(prefix.length);
  const send = (ch: string, message: string) => (sharded ? (redis as Cluster).spublish(bare(ch), message) : redis.publish(ch, message));
  let subscriber: RedisClient | undefined;
  /** Listeners by channel name: one Redis subscription per channel, however many streams share it. */
  const listeners = new Map<string, Set<(event: LiveEvent) => void>>();
  const subscribed = new Map<string, Promise<unknown>>();
  let open = 0;
  const streams = metrics?.gauge("feedline_live_streams", "Live streams (home feeds and notifications) open in this process.");
  const ended = metrics?.counter("feedline_live_streams_ended_total", "Live streams this process ended itself: `behind`, a reader that fell FEEDLINE_LIVE_MAX_QUEUE events behind.");
  const opened = (by: number) => streams?.set({}, (open += by));

  function connectSubscriber() {
    if (subscriber) return subscriber;
    const sub = sharded ? (redis as Cluster).duplicate([], { shardedSubscribers: true, enableAutoPipelining: false }) : duplicateRedis(redis, { autoPipelining: false });
    subscriber = sub;
    logOutages(sub, "live"); // reconnects by itself; ioredis restores the subscriptions
    sub.on(sharded ? "smessage" : "message", (ch: string, message: string) => {
      const event = JSON.parse(message) as LiveEvent;
      for (const listener of listeners.get(ch) ?? []) listener(event);
    });
    return sub;
  }

  /** Adds a listener to a channel; resolves once the process is subscribed to it (one subscription per channel). */
  async function join(ch: string, listener: (event: LiveEvent) => void) {
    let set = listeners.get(ch);
    if (!set) {
      listeners.set(ch, (set = new Set()));
      const sub = connectSubscriber();
      const pending = sharded ? (sub as Cluster).ssubscribe(bare(ch)) : sub.subscribe(ch);
      subscribed.set(ch, pending);
      // A failed subscription is not kept: the streams that waited on it fail, the next one tries again.
      pending.catch(() => {
        if (subscribed.get(ch) !== pending) return;
        subscribed.delete(ch);
        listeners.delete(ch);
      });
    }
    set.add(listener);
    await subscribed.get(ch);
  }

  /** Removes a listener; the last one to leave a channel unsubscribes the process from it. */
  async function leave(ch: string, listener: (event: LiveEvent) => void) {
    const set = listeners.get(ch);
    if (!set?.delete(listener) || set.size > 0) return;
    listeners.delete(ch);
    subscribed.delete(ch);
    await (sharded ? (subscriber as Cluster | undefined)?.sunsubscribe(bare(ch)) : subscriber?.unsubscribe(ch))?.catch(() => {});
  }

  /** Takes (or refreshes) this connection's place among the user's streams; false at the limit. */
  async function claim(userId: string, connectionId: string) {
    const now = Date.now();
    return (await redis.eval(claimConnection, 1, connections(userId), now, now + registrationMs, connectionId, maxPerUser)) === 1;
  }

  /** Worker: of these users, those with an open subscription now (one registry look-up per 10,000). */
  const listening = (userIds: string[]) => registry.registered(userIds);

  /** Worker: tells these users (the ones `listening` returned) what changed. */
  async function publishTo(live: string[], events: LiveEvent[]) {
    if (live.length === 0 || events.length === 0) return;
    const messages = events.map((e) => JSON.stringify(e));
    await Promise.all(live.flatMap((u) => messages.map((message) => send(channel(u), message))));
  }

  return {
    /** Who has an open stream (tests and benchmarks look entries up by `registry.keyOf(user)`). */
    registry,
    listening,
    publishTo,
    /** Worker: tells every target with an open subscription what changed. */
    async publish(userIds: string[], events: LiveEvent[]) {
      if (events.length > 0) await publishTo(await listening(userIds), events);
    },
    /** Worker: a pulled account's new activity, once, to every stream that listens to the account. */
    async publishAccount(accountId: string, event: LiveEvent) {
      await send(accountChannel(accountId), JSON.stringify(event));
    },

    /**
     * API: listens to the user's feed from the moment this resolves (the Redis subscription and
     * the registration are in place), and returns the events as they come until `signal` aborts.
     * TOO_MANY_REQUESTS when the user already holds `maxPerUser` streams.
     */
    async subscribe(userId: string, signal?: AbortSignal): Promise<LiveEvents> {
      const connectionId = crypto.randomUUID();
      if (!(await claim(userId, connectionId))) {
        throw new AppError("TOO_MANY_REQUESTS", `at most ${maxPerUser} live streams per user; close one before opening another`);
      }
      const queue: LiveEvent[] = [];
      let overflowed = false;
      let wake: (() => void) | undefined;
      const listener = (event: LiveEvent) => {
        if (queue.length >= maxQueue) overflowed = true;
        else queue.push(event);
        wake?.();
      };
      const own = channel(userId);
      let accounts = new Set<string>();
      let keepAlive: ReturnType<typeof setInterval> | undefined;
      let closed = false;
      /** Gives everything back, once: on abort, at the generator's end, or when opening fails. */
      const close = async () => {
        if (closed) return;
        closed = true;
        opened(-1);
        clearInterval(keepAlive);
        wake?.();
        await Promise.all([own, ...[...accounts].map(accountChannel)].map((ch) => leave(ch, listener)));
        await redis.zrem(connections(userId), connectionId).catch(() => 0);
      };
      // Closing wakes the generator below, so it does not race each wait against the signal (a
      // race adds a reaction to a promise that lives as long as the stream, one per event).
      opened(1);
      signal?.addEventListener("abort", () => void close(), { once: true });
      const register = async () => {
        const now = Date.now();
        // Registrations of closed or dead connections are pruned as new ones arrive (at most once a second per process).
        await registry.raise(userId, now + registrationMs, now);
        await claim(userId, connectionId);
      };
      try {
        await join(own, listener);
        await register().catch(() => {});
      } catch (err) {
        await close();
        throw err;
      }
      keepAlive = setInterval(() => register().catch(() => {}), registrationMs / 3);
      const events = (async function* () {
        try {
          while (!signal?.aborted && !closed) {
            while (queue.length) yield queue.shift()!;
            if (overflowed) {
              ended?.inc({ reason: "behind" });
              throw new AppError("UNAVAILABLE", `the stream fell ${maxQueue} events behind its reader; reconnect to resume from the feed`);
            }
            // Checked again: the stream may have closed while it waited at a yield.
            if (signal?.aborted || closed) break;
            await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
          }
        } finally {
          await close();
        }
      })();
      return Object.assign(events, {
        /** Listens to these pulled accounts' channels from when this resolves, and to no others. */
        async listenTo(accountIds: string[]) {
          const next = new Set(accountIds);
          const [joined, left] = [[...next].filter((a) => !accounts.has(a)), [...accounts].filter((a) => !next.has(a))];
          accounts = next;
          if (closed) return;
          await Promise.all([...joined.map((a) => join(accountChannel(a), listener)), ...left.map((a) => leave(accountChannel(a), listener))]);
        },
      });
    },

    async close() {
      // Streams still closing write their UNSUBSCRIBE to a connection that is going: not an outage.
      subscriber?.removeAllListeners("error").on("error", () => {});
      await subscriber?.quit().catch(() => {});
    },
  };
}

export type LiveFeed = ReturnType<typeof createLiveFeed>;

/** A stream's events, and the pulled accounts it listens to besides the user's own channel. */
export type LiveEvents = AsyncGenerator<LiveEvent> & { listenTo(accountIds: string[]): Promise<void> };
