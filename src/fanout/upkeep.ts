import type { Metrics } from "../metrics";
import type { FeedStore } from "../feeds/store";
import type { Registry } from "../clients/redis";
import { trimmed } from "./complete";
import { createKeyedQueue } from "../parallel";
import { generationOf, writeTimeBase } from "../model/write-time";

const dayMs = 86_400_000;

/**
 * Bounds the feeds that are read by length (docs/stream.md, "Trimming feeds"). Feed rows do not
 * expire: an age limit would cut inside N for a quiet account's old posts. Instead, when a feed
 * is read (at most once a day per user, across processes by the feed's time in `feed_upkeep`,
 * which `marks` holds in front of Cassandra), the rows
 * past 2N are deleted, each at its own write time, after the feed is cut there (source '*', with
 * the highest generation deleted): removals that later reach past the rows left complete the feed
 * from its sources and write the trimmed rows back above their trim (src/fanout/complete.ts). The N
 * rows kept beyond N let most removals go without a completion.
 *
 * Runs off the request path, `concurrency` feeds at a time per process (default 2): a storm of
 * first reads (a new process, a Redis flush) queues its upkeeps behind the pages instead of
 * competing with them. At most `backlog` feeds wait; past that a read queues nothing and a later
 * read asks again (`feedline_upkeep_pending` counts those waiting and running). A failure is
 * logged and retried on a later read.
 */
export function createUpkeep(deps: {
  feeds: FeedStore;
  length: number;
  metrics: Metrics;
  everyMs?: number;
  concurrency?: number;
  backlog?: number;
  /**
   * The feeds kept lately, in Redis (`feed:upkept`, scored by when each is due again): asked
   * before `feed_upkeep`, so a new process's first reads cost a Redis look-up each rather than a
   * Cassandra read. Losing it costs those reads, nothing more.
   */
  marks?: Pick<Registry, "raise" | "registered">;
}) {
  const { feeds, length } = deps;
  const everyMs = deps.everyMs ?? dayMs;
  const concurrency = deps.concurrency ?? 2;
  const backlog = deps.backlog ?? 10_000;
  const keep = 2 * length;
  const trims = deps.metrics.counter("feedline_feed_trimmed_rows_total", "Home feed rows past 2N deleted by the upkeep.");
  const pending = deps.metrics.gauge("feedline_upkeep_pending", "Feeds whose upkeep is queued or running in this process.");
  /** Users this process kept (or queued) recently (ms), so a read costs no store round trip most of the time. */
  const recent = new Map<string, number>();
  /** Queued, in the order their reads came. */
  const queue = createKeyedQueue({ concurrency, backlog, onSize: (size) => pending.set({}, size) });
  const run = (userId: string) => () =>
    upkeep(userId).catch((err) => {
      recent.delete(userId); // retried on a later read
      console.warn(`[feed] upkeep of ${userId}: ${err instanceof Error ? err.message : err}`);
    });

  /** Trims the user's feed past 2N, unless that was done less than a day ago (or `force`). */
  async function upkeep(userId: string, opts: { force?: boolean } = {}) {
    const now = Date.now();
    if (!opts.force && (await markedLately(userId))) return;
    const upkept = await feeds.upkept(userId);
    if (upkept && now - upkept.getTime() < everyMs && !opts.force) return mark(userId, upkept.getTime() + everyMs);
    const edge = (await feeds.feedKeys(userId, keep)).at(keep - 1);
    const past = edge ? await feeds.below(userId, edge) : [];
    if (edge && past.length > 0) {
      // Cut first: a crash between the two leaves a cut with nothing trimmed, which only costs a completion.
      await feeds.cut([userId], trimmed, edge, writeTimeBase, { generation: Math.max(...past.map((r) => generationOf(r.ts))) });
      await feeds.deleteRows(userId, past);
      trims.inc({}, past.length);
    }
    await feeds.markUpkept(userId, new Date(now));
    await mark(userId, now + everyMs);
  }

  /** Whether Redis says the feed was kept less than `everyMs` ago; no when it cannot say (Cassandra is asked then). */
  const markedLately = async (userId: string) => deps.marks !== undefined && (await deps.marks.registered([userId]).catch(() => [])).length > 0;
  /** Records in Redis that the feed is not due again until `untilMs`; a mark that fails costs a later read of `feed_upkeep`. */
  const mark = async (userId: string, untilMs: number) => void (await deps.marks?.raise(userId, untilMs).catch(() => {}));

  return {
    upkeep,
    /** A read of the user's feed: queues its upkeep if it is due. */
    read(userId: string) {
      const now = Date.now();
      if (now - (recent.get(userId) ?? 0) < everyMs || queue.has(userId)) return;
      if (!queue.add(userId, run(userId))) return;
      if (recent.size > 100_000) recent.clear();
      recent.set(userId, now);
    },
    /** Until every queued upkeep has run (tests). */
    async drained() {
      while (queue.size() > 0) await Bun.sleep(20);
    },
  };
}

export type Upkeep = ReturnType<typeof createUpkeep>;
