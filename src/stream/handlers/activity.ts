import type { Activity } from "../activities";
import { completeFeeds } from "./complete";
import type { HandlerContext } from "./context";

/**
 * An activity appears in its actor's feed and in each follower's; it goes from all of them.
 * Runs in the actor's serial stream, which also owns the actor's followers and user row.
 */
export async function upsertActivity(ctx: HandlerContext, activity: Activity, sourceTs: number) {
  await ctx.feeds.putActivity(activity, ctx.ts);
  const actor = await ctx.feeds.getUser(activity.actorId);
  // The actor's own row has not arrived yet (topics are not ordered with each other): the
  // activity waits in activities_by_actor and is fanned out when the user row arrives.
  if (!actor) return;
  const targets = [activity.actorId, ...(await ctx.feeds.followers(activity.actorId))];
  ctx.onFanout(await ctx.feeds.writeItem(targets, { ...activity, actorHandle: actor.handle }, ctx.ts), sourceTs);
}

/** Removed from every feed it reached, then from the actor's activities; feeds it leaves short of N are completed. */
export async function deleteActivity(ctx: HandlerContext, activity: Activity) {
  const targets = [activity.actorId, ...(await ctx.feeds.followers(activity.actorId))];
  await ctx.feeds.removeItem(targets, activity, ctx.ts);
  await ctx.feeds.deleteActivity(activity, ctx.ts);
  await completeFeeds(ctx, targets);
}
