import { inParallel } from "../parallel";
import type { Cut } from "../feeds/cuts";
import { rewriteTime, writeTimeBase } from "../model/write-time";
import type { WriteContext } from "./context";
import { type FeedItem, type FeedKey, type Stored, feedOrder } from "../model/feed";

/** Below every position: a source cut here has nothing missing. */
const bottom: FeedKey = { createdAt: new Date(0), id: "" };

/** The source of the upkeep's trims: every source's rows below its cut were deleted. */
export const trimmed = "*";

/**
 * The contract (docs/contract.md): when removals leave a feed short of N while older qualifying activities exist, the
 * feed is completed with them. Called after removing items from feeds, in the same event, so a
 * crash replays both.
 *
 * A feed's gaps are recorded as cuts (feed_cuts): a backfill or a release that took a source's
 * newest N only cuts the feed at the N-th, and the upkeep's trim cuts every source at the 2N-th
 * (source '*'). Every missing item lies below some cut, so the feed is exact at and above its
 * highest cut, the horizon. A feed with no cuts is exact; one with N items at or above its
 * horizon still shows exactly its newest N. Otherwise it is completed (`completeFeed`).
 */
export async function completeFeeds(ctx: WriteContext, userIds: string[]) {
  await inParallel(userIds, 16, async (userId) => {
    const cuts = await ctx.feeds.cuts(userId);
    if (cuts.length === 0) return;
    const horizon = cuts.map((c) => c.at).sort(feedOrder)[0]!;
    if ((await ctx.feeds.feedKeys(userId, ctx.feedLength, horizon)).length >= ctx.feedLength) return;
    await completeFeed(ctx, userId, cuts);
  });
}

/**
 * Recomputes a feed's newest N from its sources (the user's own activities and those of everyone
 * it follows but the pulled accounts), writes the missing ones, and records that the feed is exact down to the N-th: each
 * source with more below is cut there, and the cuts above it are dropped (each at its own write
 * time, so a cut recorded meanwhile stays).
 *
 * Each written item carries the write time its owner stream used or would have used for it, the
 * later of the activity's and the follow's (an own activity: the activity's), at a generation
 * above any the trims deleted (write-time.ts). A completion that races with a removal in the
 * owner's stream (a delete, an unfollow) therefore loses to it in Cassandra and in the cache,
 * whatever the timing, and a row a trim deleted comes back (docs/stream.md).
 */
export async function completeFeed(ctx: WriteContext, userId: string, cuts?: Cut[]) {
  const n = ctx.feedLength;
  const known = cuts ?? (await ctx.feeds.cuts(userId));
  const trims = known.filter((c) => c.source === trimmed);
  const generation = trims.length > 0 ? Math.max(...trims.map((c) => c.generation)) + 1 : 0;
  // Pulled accounts are merged in at read time, not written into the feed (src/fanout/hybrid.ts).
  const [following, pulled] = await Promise.all([ctx.feeds.following(userId), ctx.feeds.sources(userId)]);
  const pulledIn = new Set(pulled.map((s) => s.userId));
  const sources = [{ userId, ts: writeTimeBase }, ...following.filter((f) => !pulledIn.has(f.userId))];
  const read = new Map<string, { ts: number; items: Stored<FeedItem>[] }>();
  await inParallel(sources, 16, async (source) => {
    const user = await ctx.feeds.getUser(source.userId);
    if (!user) return; // its activities wait for the user row, whose release reaches this feed
    const items = (await ctx.feeds.activities(source.userId, n)).map((a) => ({ ...a, actorHandle: user.handle, ts: rewriteTime(Math.max(a.ts, source.ts), generation) }));
    read.set(source.userId, { ts: source.ts, items });
  });
  const newest = [...read.values()].flatMap((r) => r.items).sort(feedOrder).slice(0, n);
  const last = newest.at(-1) ?? bottom;
  const held = new Set((await ctx.feeds.feedKeys(userId, 2 * n, last)).map((k) => k.id));
  const missing = newest.filter((i) => !held.has(i.id));
  if (missing.length > 0) ctx.onFanout(await ctx.fanout.addMany(userId, missing), null);
  // Exact down to `last` now: a source with anything below it (read or not) is cut there.
  for (const [sourceId, { ts, items }] of read) {
    if (items.length === n || items.some((i) => feedOrder(i, last) > 0)) await ctx.feeds.cut([userId], sourceId, last, ts);
  }
  if (trims.length > 0) await ctx.feeds.cut([userId], trimmed, last, writeTimeBase, { generation: generation - 1 });
  await ctx.feeds.dropCuts(userId, known.filter((c) => feedOrder(c.at, last) < 0));
}
