import type { Change } from "../envelope";
import { deleteActivity, toActivity, upsertActivity } from "./activity";
import { completeFeeds } from "../../fanout/complete";
import type { WriteContext } from "../../fanout/context";
import { toAction } from "./notifications";

/** The FOLLOW activity, in the follower's stream: it shows in the follower's and their followers' feeds. */
export function handleFollowActivity(ctx: WriteContext, change: Change<"follows">) {
  const activity = toActivity.follows(change.row);
  return change.op === "upsert" ? upsertActivity(ctx, activity, change.sourceTs) : deleteActivity(ctx, activity);
}

/**
 * The follow edge, in the followee's stream (which owns the followee's followers and activities):
 * a follow backfills the followee's newest activities (the feed's length of them, however old)
 * into the follower's feed; an unfollow removes every one of them, however old, and completes the
 * follower's feed if that leaves it short. The followee is notified of the follow (and the
 * notification goes with an unfollow) first: it does not wait for the followee's user row.
 */
export async function handleFollowEdge(ctx: WriteContext, change: Change<"follows">) {
  const { follower_id: follower, followee_id: followee, created_at } = change.row;
  await ctx.notifier.apply(toAction.follows(change.row), change.op === "upsert" ? "add" : "remove", ctx.ts);
  if (change.op === "upsert") {
    await ctx.feeds.addFollower(followee, follower, new Date(created_at), ctx.ts);
    const user = await ctx.feeds.getUser(followee);
    if (!user) return; // not rendered yet: the user row's arrival fans out to every follower, this one included
    const newest = await ctx.feeds.activities(followee, ctx.feedLength + 1);
    const items = newest.slice(0, ctx.feedLength).map((a) => ({ ...a, actorHandle: user.handle, ts: ctx.ts }));
    // The followee has older activities than these: the feed may miss them from here down.
    if (newest.length > ctx.feedLength) await ctx.feeds.cut([follower], followee, items.at(-1)!, ctx.ts);
    ctx.onFanout(await ctx.fanout.addMany(follower, items), null);
  } else {
    await ctx.feeds.removeFollower(followee, follower, ctx.ts);
    await ctx.fanout.removeMany(follower, await ctx.feeds.activityKeysOf(followee), ctx.ts);
    await ctx.feeds.uncut(follower, followee, ctx.ts);
    await completeFeeds(ctx, [follower]);
  }
}
