import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { duplicateRedis, type RedisClient } from "../clients/redis";
import type { Config } from "../config";
import { AppError } from "../errors";

/**
 * Rate limits, counted in Redis so that every API process shares them (rate-limiter-flexible,
 * fixed windows). Each procedure draws on one budget, per user when signed in, else per client
 * address: sign-ups, writes, follow churn (a follow or unfollow costs a backfill or a removal of up
 * to N items), and reads. Every call of a batch counts. Over budget: TOO_MANY_REQUESTS (429) with
 * Retry-After. While Redis is away each process counts alone (the insurance limiter) rather than
 * refuse or let everything through.
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
        await (perUser && who.userId !== undefined ? perUser.consume(who.userId) : perAddress.consume(who.address));
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
  const limiters: Record<Budget, { perUser?: RateLimiterRedis; perAddress: RateLimiterRedis }> = {
    signup: { perAddress: limiter("signup", rates.signupsPerHour, 3600) },
    write: { perUser: limiter("write:user", rates.writesPerMinute, 60), perAddress: limiter("write:addr", rates.writesPerMinute, 60) },
    follow: { perUser: limiter("follow:user", rates.followsPerHour, 3600), perAddress: limiter("follow:addr", rates.followsPerHour, 3600) },
    read: { perUser: limiter("read:user", rates.readsPerMinute, 60), perAddress: limiter("read:addr", rates.anonymousReadsPerMinute, 60) },
  };

  return { client, limiters };
}

export type RateLimits = ReturnType<typeof createRateLimits>;
