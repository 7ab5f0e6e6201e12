import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { duplicateRedis, type RedisClient } from "../clients/redis";
import type { Config } from "../config";
import { AppError } from "../errors";

/**
 * Rate limits, counted in Redis so that every API process shares them (rate-limiter-flexible,
 * fixed windows). Each procedure draws on one budget, per user when signed in, else per client
 * address: sign-ups, writes, follow churn (a follow or unfollow costs a backfill or a removal of up
 * to N items), and reads (drawn in leases: `leased`). Every call of a batch counts. Over budget:
 * TOO_MANY_REQUESTS (429) with Retry-After. While Redis is away each process counts alone (the
 * insurance limiter) rather than refuse or let everything through.
 */
export type Budget = "signup" | "write" | "follow" | "read";

/** Which budget each procedure draws on; a procedure not listed draws on reads. */
const budgets: Record<string, Budget> = {
  "users.create": "signup",
  "posts.create": "write",
  "posts.delete": "write",
  "comments.create": "write",
  "comments.delete": "write",
  "likes.like": "write",
  "likes.unlike": "write",
  "follows.follow": "follow",
  "follows.unfollow": "follow",
  "notifications.markSeen": "write",
  "notifications.markRead": "write",
};

export const budgetOf = (path: string): Budget => budgets[path] ?? "read";

/**
 * How many read points a process takes from Redis at once (`leased`): the reads that follow spend
 * them without a round trip.
 */
export const readLease = 10;

export function createRateLimits({ redis, rates }: { redis: RedisClient; rates: Config["rates"] }) {
  let built: ReturnType<typeof build> | undefined;
  return {
    /**
     * Counts one call of `path` by the user (or, when anonymous, the address); throws
     * TOO_MANY_REQUESTS with the seconds until the budget refills. Sign-ups always count per address.
     */
    async consume(path: string, who: { userId?: string; address: string }) {
      built ??= build(redis, rates); // on first use: a worker-only process opens no connection for it
      const budget = budgetOf(path);
      const { perUser, perAddress } = built.limiters[budget];
      try {
        await (perUser && who.userId !== undefined ? perUser(who.userId) : perAddress(who.address));
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        const retryAfterSeconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        throw new AppError("TOO_MANY_REQUESTS", `too many ${budget === "read" ? "reads" : `${budget}s`}; retry in ${retryAfterSeconds} s`, { retryAfterSeconds });
      }
    },
    async close() {
      await built?.client.quit().catch(() => {});
    },
  };
}

function build(redis: RedisClient, rates: Config["rates"]) {
  // Its own connection: the library defines a Lua command on the client it is given.
  // Auto-pipelined: the counts of concurrent requests go to Redis in one write, not one each.
  const client = duplicateRedis(redis, { autoPipelining: true });
  client.on("error", () => {}); // outages are logged by the main client; the insurance limiter covers them
  const limiter = (name: string, points: number, duration: number) =>
    new RateLimiterRedis({
      storeClient: client,
      keyPrefix: `rate:${name}`,
      points,
      duration,
      insuranceLimiter: new RateLimiterMemory({ keyPrefix: `rate:${name}`, points, duration }),
    });
  const each = (l: RateLimiterAbstract) => (key: string) => l.consume(key);
  const limiters: Record<Budget, { perUser?: Consume; perAddress: Consume }> = {
    signup: { perAddress: each(limiter("signup", rates.signupsPerHour, 3600)) },
    write: { perUser: each(limiter("write:user", rates.writesPerMinute, 60)), perAddress: each(limiter("write:addr", rates.writesPerMinute, 60)) },
    follow: { perUser: each(limiter("follow:user", rates.followsPerHour, 3600)), perAddress: each(limiter("follow:addr", rates.followsPerHour, 3600)) },
    // Reads are most calls, and the cheapest: they spend leases rather than a Redis round trip each.
    read: { perUser: leased(limiter("read:user", rates.readsPerMinute, 60), readLease), perAddress: leased(limiter("read:addr", rates.anonymousReadsPerMinute, 60), readLease) },
  };

  return { client, limiters };
}

/** Draws one point for a key; rejects with a RateLimiterRes (rate-limiter-flexible's way) when the budget is spent. */
type Consume = (key: string) => Promise<unknown>;

/**
 * One point at a time, drawn from leases of up to `size` points that this process takes from the
 * shared count at once (one Redis round trip per lease, not per call). A lease lasts until its
 * points are spent or the budget's window ends. When fewer than `size` points are left in the
 * window, the lease is what was left: in one process the budget is exact. Across processes, a
 * process may hold up to `size - 1` points of a key that it has not spent, so a key whose calls
 * are spread over P processes may be refused up to (P - 1) x (size - 1) calls early in a window,
 * never late.
 */
export function leased(limiter: RateLimiterAbstract, size: number): Consume {
  const leases = new Map<string, { left: number; until: number }>();
  /** The lease being taken per key: concurrent calls wait for it rather than each take one. */
  const taking = new Map<string, Promise<void>>();

  async function take(key: string) {
    const now = Date.now();
    let res: RateLimiterRes;
    let left: number;
    try {
      res = await limiter.consume(key, size);
      left = size;
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      // The count went past the budget: what was left before this lease is still this key's.
      left = Math.min(size, limiter.points - (err.consumedPoints - size));
      if (left <= 0) throw err;
      res = err;
    }
    if (leases.size >= 100_000) leases.clear();
    leases.set(key, { left, until: now + Math.max(res.msBeforeNext, 1) });
  }

  return async function consume(key: string): Promise<void> {
    for (;;) {
      const lease = leases.get(key);
      if (lease && lease.left > 0 && Date.now() < lease.until) {
        lease.left--;
        return;
      }
      let pending = taking.get(key);
      if (!pending) {
        pending = take(key).finally(() => taking.delete(key));
        taking.set(key, pending);
      }
      await pending;
    }
  };
}

export type RateLimits = ReturnType<typeof createRateLimits>;
