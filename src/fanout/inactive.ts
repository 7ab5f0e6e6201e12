import type { Dormancy } from "../feeds/dormancy";
import type { FeedStore } from "../feeds/store";
import type { Metrics } from "../metrics";
import { completeFeed } from "./complete";
import type { WriteContext } from "./context";
import { createKeyedQueue } from "../parallel";

/**
 * Inactive users (docs/stream.md, "Inactive users"): the sweep that marks users who have not
 * read their feed for the window dormant, so that new activities are not written into their
 * feeds; and the catch-up that completes a returning user's feed from its sources before pages
 * read it again.
 */

/**
 * Marks users dormant: every user of the feed store, a page at a time, who is neither reading
 * nor new within the window (src/feeds/dormancy.ts). Runs in every worker process every
 * `everyMs`, at a random offset; several processes may sweep at once, each marking the same
 * users (idempotent). Nothing is marked until `feed:active` has been kept for a whole window.
 */
export function startInactiveSweep(deps: { feeds: FeedStore; dormancy: Dormancy; metrics: Metrics; everyMs?: number }) {
  const everyMs = deps.everyMs ?? 3_600_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<unknown> | undefined;
  const schedule = () => {
    timer = setTimeout(() => {
      running = sweepInactive(deps)
        .catch((err) => console.warn(`[inactive] sweep: ${err instanceof Error ? err.message : err}; again in ${everyMs / 1000} s`))
        .finally(schedule);
    }, everyMs * (0.5 + Math.random()));
  };
  schedule();
  return {
    async stop() {
      clearTimeout(timer);
      await running;
    },
  };
}

/** One sweep; returns how many users it read and how many it marked dormant. Logs its progress. */
export async function sweepInactive({ feeds, dormancy, metrics }: { feeds: FeedStore; dormancy: Dormancy; metrics: Metrics }) {
  if (!(await dormancy.knownLongEnough())) return { users: 0, marked: 0 };
  const marked = metrics.counter("feedline_inactive_marked_total", "Users marked dormant by the sweep: new activities skip their feeds until they read again.");
  let [users, newly, lastLog] = [0, 0, Date.now()];
  await feeds.eachUserPage(async (page) => {
    const idle = await dormancy.idle(page);
    await dormancy.sleep(idle);
    users += page.length;
    newly += idle.length;
    marked.inc({}, idle.length);
    if (Date.now() - lastLog >= 10_000) {
      lastLog = Date.now();
      console.log(`[inactive] sweep: ${users} users read, ${newly} marked dormant so far`);
    }
  });
  if (newly > 0) console.log(`[inactive] sweep done: ${users} users read, ${newly} marked dormant`);
  return { users, marked: newly };
}

/**
 * A returning user's catch-up, queued behind the pages like the upkeep (`concurrency` at a time
 * per process, a user at most once; another process may run its own, and both write the same
 * rows at the same write times). First the feed is marked catching up and the fan-out writes to
 * it again; then its newest N are recomputed from its sources and the missing ones written, each
 * at its owner stream's write time (src/fanout/complete.ts), so that a removal racing with it
 * wins; then pages read the feed again. A failure leaves the mark, and the next page queues the
 * catch-up again.
 */
export function createCatchUp(ctx: Omit<WriteContext, "ts" | "onFanout">, dormancy: Dormancy, metrics: Metrics, concurrency = 2) {
  const pending = metrics.gauge("feedline_catchup_pending", "Returning users' catch-ups queued or running in this process.");
  const queue = createKeyedQueue({ concurrency, backlog: 10_000, onSize: (size) => pending.set({}, size) });
  const catchUp = async (userId: string) => {
    await dormancy.wake(userId);
    await completeFeed({ ...ctx, ts: 0, onFanout: () => {} }, userId);
    await dormancy.caughtUp(userId);
  };
  return (userId: string) =>
    void queue.add(userId, () =>
      catchUp(userId).catch((err) => console.warn(`[inactive] catching up the feed of ${userId}: ${err instanceof Error ? err.message : err}`)),
    );
}
