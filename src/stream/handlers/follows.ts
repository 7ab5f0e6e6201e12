import type { Change } from "../envelope";
import { deleteActivity, toActivity, upsertActivity } from "./activity";
import { completeFeeds } from "../../fanout/complete";
import type { WriteContext } from "../../fanout/context";
import { toAction } from "./notifications";
import { settle } from "../../fanout/hybrid";

/** The FOLLOW activity, in the follower's stream: it shows in the follower's and their followers' feeds. */
export function handleFollowActivity(ctx: WriteContext, change: Change<"follows">) {
  const activity = toActivity.follows(change.row);
  return change.op === "upsert" ? upsertActivity(ctx, activity, change.sourceTs) : deleteActivity(ctx, activity);
}

/**
 * The follow edge, in the followee's stream (which owns the followee's followers, reach and
 * activities): a follow backfills the followee's newest activities (the feed's length of them,
 * however old) into the follower's feed, or, when the followee is pulled (src/fanout/hybrid.ts),
 * names it among the feed's sources instead; an unfollow removes every one of them, however old,
 * and the source, and completes the follower's feed if that leaves it short. Then the followee's
 * mode follows its new follower count. The followee is notified of the follow (and the
 * notification goes with an unfollow) first: it does not wait for the followee's user row.
 *
 * The follower count changes only when the edge does: a replayed follow finds its row and counts
 * nothing (the row and the count are written in one logged batch).
 */
export async function handleFollowEdge(ctx: WriteContext, change: Change<"follows">) {
  const { follower_id: follower, followee_id: followee, created_at } = change.row;
  await ctx.notifier.apply(toAction.follows(change.row), change.op === "upsert" ? "add" : "remove", ctx.ts);
  const [{ followers, pulled }, known] = await Promise.all([ctx.feeds.reach(followee), ctx.feeds.isFollower(followee, follower)]);
  if (change.op === "upsert") {
    await ctx.feeds.addFollower(followee, follower, new Date(created_at), ctx.ts, known ? followers : followers + 1);
    if (pulled) await ctx.fanout.pull([follower], followee, true, ctx.ts);
    else await backfill(ctx, follower, followee);
  } else {
    await ctx.feeds.removeFollower(followee, follower, ctx.ts, known ? followers - 1 : followers);
    // Source rows exist only while the followee is pulled: a switch back to push deletes them all before it records the mode.
    if (pulled) await ctx.fanout.pull([follower], followee, false, ctx.ts);
    await ctx.fanout.removeMany(follower, await ctx.feeds.activityKeysOf(followee), ctx.ts);
    await ctx.feeds.uncut(follower, followee, ctx.ts);
    await completeFeeds(ctx, [follower]);
  }
  await settle(ctx, followee);
}

/** The followee's newest N into the follower's feed, cut at the N-th when it has more. */
async function backfill(ctx: WriteContext, follower: string, followee: string) {
  const user = await ctx.feeds.getUser(followee);
  if (!user) return; // not rendered yet: the user row's arrival fans out to every follower, this one included
  const newest = await ctx.feeds.activities(followee, ctx.feedLength + 1);
  const items = newest.slice(0, ctx.feedLength).map((a) => ({ ...a, actorHandle: user.handle, ts: ctx.ts }));
  // The followee has older activities than these: the feed may miss them from here down.
  if (newest.length > ctx.feedLength) await ctx.feeds.cut([follower], followee, items.at(-1)!, ctx.ts);
  ctx.onFanout(await ctx.fanout.addMany(follower, items), null);
}
