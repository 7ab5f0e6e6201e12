import { inParallel } from "../../parallel";
import { type FeedItem, type FeedKey, feedOrder, type Stored } from "../../store/feeds";
import { writeTimeBase } from "../write-time";
import type { HandlerContext } from "./context";

/** Below every position: a source cut here has nothing missing. */
const bottom: FeedKey = { createdAt: new Date(0), id: "" };

/**
 * FEED-SPEC: when removals leave a feed short of N while older qualifying activities exist, the
 * feed is completed with them. Called after removing items from feeds, in the same event, so a
 * crash replays both.
 *
 * A feed's gaps are recorded as cuts (feed_cuts): a backfill or a release that took a source's
 * newest N only cuts the feed at the N-th. Every missing item lies below its source's cut, so the
 * feed is exact at and above the newest cut (the horizon). A feed with no cuts is exact; one with
 * N items at or above its horizon still shows exactly its newest N. Otherwise its newest N are
 * computed from its sources (the user's own activities and those of everyone it follows), the
 * missing ones written, and every source cut at the N-th, where the feed is now exact.
 *
 * Each written item carries the write time its owner stream used or would have used for it, the
 * later of the activity's and the follow's (an own activity: the activity's), and so does each
 * cut. A completion that races with a removal in the owner's stream (a delete, an unfollow)
 * therefore loses to it in Cassandra and in the cache, whatever the timing (docs/stream.md).
 */
export async function completeFeeds(ctx: HandlerContext, userIds: string[]) {
  await inParallel(userIds, 16, async (userId) => {
    const cuts = await ctx.feeds.cuts(userId);
    if (cuts.size === 0) return;
    const horizon = [...cuts.values()].sort(feedOrder)[0]!;
    if ((await ctx.feeds.feedKeys(userId, ctx.feedLength, horizon)).length >= ctx.feedLength) return;
    await complete(ctx, userId);
  });
}

async function complete(ctx: HandlerContext, userId: string) {
  const n = ctx.feedLength;
  const sources = [{ userId, ts: writeTimeBase }, ...(await ctx.feeds.following(userId))];
  const read = new Map<string, { ts: number; items: Stored<FeedItem>[] }>();
  await inParallel(sources, 16, async (source) => {
    const user = await ctx.feeds.getUser(source.userId);
    if (!user) return; // its activities wait for the user row, whose release reaches this feed
    const items = (await ctx.feeds.activities(source.userId, n)).map((a) => ({ ...a, actorHandle: user.handle, ts: Math.max(a.ts, source.ts) }));
    read.set(source.userId, { ts: source.ts, items });
  });
  const newest = [...read.values()].flatMap((r) => r.items).sort(feedOrder).slice(0, n);
  const last = newest.at(-1);
  if (!last) return;
  const held = new Set((await ctx.feeds.feedKeys(userId, 2 * n, last)).map((k) => k.id));
  const missing = newest.filter((i) => !held.has(i.id));
  if (missing.length > 0) ctx.onFanout(await ctx.feeds.writeItems(userId, missing), null);
  // Exact down to `last` now: a source with anything below it (read or not) is cut there, the others at the bottom.
  for (const [sourceId, { ts, items }] of read) {
    const more = items.length === n || items.some((i) => feedOrder(i, last) > 0);
    await ctx.feeds.cut([userId], sourceId, more ? last : bottom, ts);
  }
}
