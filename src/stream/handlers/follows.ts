import { toActivity } from "../activities";
import type { Change } from "../envelope";
import { deleteActivity, upsertActivity } from "./activity";
import type { HandlerContext } from "./context";

/** The FOLLOW activity, in the follower's stream: it shows in the follower's and their followers' feeds. */
export function handleFollowActivity(ctx: HandlerContext, change: Change<"follows">) {
  const activity = toActivity.follows(change.row);
  return change.op === "upsert" ? upsertActivity(ctx, activity, change.sourceTs) : deleteActivity(ctx, activity);
}

/**
 * The follow edge, in the followee's stream (which owns the followee's followers and activities):
 * a follow backfills the followee's newest activities (the feed's length of them, however old)
 * into the follower's feed; an unfollow removes every one of them, however old.
 */
export async function handleFollowEdge(ctx: HandlerContext, change: Change<"follows">) {
  const { follower_id: follower, followee_id: followee } = change.row;
  if (change.op === "upsert") {
    await ctx.feeds.addFollower(followee, follower);
    const user = await ctx.feeds.getUser(followee);
    if (!user) return; // not rendered yet: the user row's arrival fans out to every follower, this one included
    const items = (await ctx.feeds.activitiesOf(followee, ctx.feedLength)).map((a) => ({ ...a, actorHandle: user.handle }));
    ctx.onFanout(await ctx.feeds.writeItems(follower, items), null);
  } else {
    await ctx.feeds.removeFollower(followee, follower);
    await ctx.feeds.removeItems(follower, await ctx.feeds.activityKeysOf(followee));
  }
}
