import type { WriteContext } from "./context";

/**
 * Hybrid fan-out (docs/stream.md, "Huge accounts"). An account with `threshold` followers or more
 * is pulled: its activities are written once (its activity rows, its own feed, its account cache)
 * and merged into its followers' pages at read time, from the feed_sources rows that name it in
 * each follower's feed. Below `pushBelow` it is pushed into every follower's feed again. Everything
 * here runs in the account's own serial stream, which owns its followers, its reach and its
 * activities, so the argument of docs/stream.md, "Why the feeds converge", holds as it is.
 */

/**
 * Who an account's new activity is written for: its own feed and, unless it is pulled, every
 * follower's. A pulled account's followers read it from its account cache.
 */
export async function targetsOf(ctx: WriteContext, actorId: string) {
  return (await ctx.feeds.reach(actorId)).pulled ? [actorId] : [actorId, ...(await ctx.feeds.followers(actorId))];
}

/**
 * Writes the actor's newest N activities into these feeds, each at the event's write time (a
 * release of activities that waited for the user row, a rename, an account pushed again). The
 * feeds are cut at the N-th when the actor has more, so that removals complete them from the rest
 * (src/fanout/complete.ts).
 */
export async function pushNewest(ctx: WriteContext, actorId: string, handle: string, targetsNow: () => Promise<string[]>) {
  const newest = await ctx.feeds.activities(actorId, ctx.feedLength + 1);
  const targets = newest.length > 0 ? await targetsNow() : [];
  if (targets.length === 0) return;
  if (newest.length > ctx.feedLength) await ctx.feeds.cut(targets, actorId, newest[ctx.feedLength - 1]!, ctx.ts);
  for (const a of newest.slice(0, ctx.feedLength)) ctx.onFanout(await ctx.fanout.add(targets, { ...a, actorHandle: handle }, ctx.ts), null);
}

/**
 * Brings an account's mode in line with its follower count, after an edge event or before an
 * activity (so that a changed threshold applies at the account's next event). The mode is
 * recorded last: a crash before that replays the whole switch, each step idempotent at the
 * event's write time.
 *
 * - Pushed → pulled: every follower's feed names the account as a source (rows, caches, live
 *   streams). Items pushed before stay in those feeds; pages show each once (src/read/merge.ts),
 *   and a removal still goes to every follower's feed (src/stream/handlers/activity.ts).
 * - Pulled → pushed: the account's newest N go into every follower's feed first, then the
 *   sources go, so a page in between shows the items from both, each once, never from neither.
 */
export async function settle(ctx: WriteContext, userId: string) {
  const { followers, pulled, counted } = await ctx.feeds.reach(userId);
  // Counted from the rows (no count written yet): written now, at this event's time, so that it is counted once.
  if (counted) await ctx.feeds.setFollowerCount(userId, followers, ctx.ts);
  if (!pulled && followers >= ctx.hybrid.threshold) {
    await ctx.fanout.pull(await ctx.feeds.followers(userId), userId, true, ctx.ts);
    await ctx.feeds.setPulled(userId, true, ctx.ts);
    console.log(`[hybrid] account ${userId} is pulled at read time now: ${followers} followers (threshold ${ctx.hybrid.threshold})`);
  } else if (pulled && followers < ctx.hybrid.pushBelow) {
    const targets = await ctx.feeds.followers(userId);
    const user = await ctx.feeds.getUser(userId);
    // Without a user row nothing of the account shows yet: its row's arrival releases its activities.
    if (user) await pushNewest(ctx, userId, user.handle, async () => targets);
    await ctx.fanout.pull(targets, userId, false, ctx.ts);
    await ctx.feeds.setPulled(userId, false, ctx.ts);
    console.log(`[hybrid] account ${userId} is pushed again: ${followers} followers (below ${ctx.hybrid.pushBelow})`);
  }
}
