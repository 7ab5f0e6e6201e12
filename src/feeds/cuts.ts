import type { CassandraClient } from "../clients/cassandra";
import type { FeedKey, Stored } from "../model/feed";
import { allRows, type ByReplica, inBatches } from "./batches";
import { rowTs, keyOf, micros } from "./rows";

/** A recorded cut: the feed may miss `source`'s items below `at` (source '*': every source's, trimmed). */
export type Cut = { source: string; at: FeedKey; generation: number; ts: number };

/**
 * What keeps feeds exact and bounded besides the stream's own writes (docs/stream.md,
 * "Completing a feed" and "Trimming feeds"): the cuts recorded where a feed may have gaps, and the
 * upkeep's trim of home_feed. Part of the feed store.
 */
export function createFeedCuts({ db, byReplica }: { db: CassandraClient; byReplica: ByReplica }) {
  const q = {
    cut: "INSERT INTO feed_cuts (user_id, source_id, created_at, activity_id, generation) VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?",
    uncut: "DELETE FROM feed_cuts USING TIMESTAMP ? WHERE user_id = ? AND source_id = ?",
    dropCut: "DELETE FROM feed_cuts USING TIMESTAMP ? WHERE user_id = ? AND source_id = ? AND created_at = ? AND activity_id = ?",
    cuts: "SELECT source_id, created_at, activity_id, generation, WRITETIME(generation) AS ts FROM feed_cuts WHERE user_id = ?",
    upkept: "SELECT upkept FROM feed_upkeep WHERE user_id = ?",
    markUpkept: "INSERT INTO feed_upkeep (user_id, upkept) VALUES (?, ?)",
    below: "SELECT created_at, activity_id, WRITETIME(item) AS item_ts, WRITETIME(verb) AS ts FROM home_feed WHERE user_id = ? AND (created_at, activity_id) < (?, ?)",
    deleteRow: "DELETE FROM home_feed USING TIMESTAMP ? WHERE user_id = ? AND created_at = ? AND activity_id = ?",
  };


  return {
    /** Records that these feeds may miss the source's activities older than `at` (feed_cuts). */
    cut: (userIds: string[], sourceId: string, at: FeedKey, ts: number, opts: { generation?: number; beforeBatch?: () => void } = {}) =>
      byReplica(userIds, (u) => ({ query: q.cut, params: [u, sourceId, at.createdAt, at.id, opts.generation ?? 0, ts] }), opts.beforeBatch),
    /** Forgets a source's cuts in a feed (an unfollow: none of its items remain). */
    uncut: (userId: string, sourceId: string, ts: number) => db.execute(q.uncut, [ts, userId, sourceId]),
    /** Every cut recorded in a feed. */
    cuts: (userId: string) =>
      allRows(db, q.cuts, [userId], (r): Cut => ({ source: r.source_id, at: keyOf(r), generation: r.generation ?? 0, ts: r.ts ? micros(r.ts) : 0 })),
    /** Deletes these cuts, each at its own write time: a cut recorded since (even at the same place) stays. */
    dropCuts: (userId: string, cuts: Cut[]) =>
      inBatches(db, cuts, (c) => ({ query: q.dropCut, params: [c.ts, userId, c.source, c.at.createdAt, c.at.id] })),

    /** When the upkeep last kept the feed, or null. */
    async upkept(userId: string): Promise<Date | null> {
      return (await db.execute(q.upkept, [userId])).first()?.upkept ?? null;
    },
    markUpkept: (userId: string, at: Date) => db.execute(q.markUpkept, [userId, at]),
    /** Every row below a position, with its write time. */
    below: (userId: string, at: FeedKey) => allRows(db, q.below, [userId, at.createdAt, at.id], (r): Stored<FeedKey> => ({ ...keyOf(r), ts: rowTs(r) })),
    /** Deletes these rows, each at its own write time: a row written again since stays. */
    deleteRows: (userId: string, rows: Stored<FeedKey>[]) =>
      inBatches(db, rows, (r) => ({ query: q.deleteRow, params: [r.ts, userId, r.createdAt, r.id] })),
  };
}
