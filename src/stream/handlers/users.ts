import type { Change } from "../envelope";
import type { HandlerContext } from "./context";

/**
 * A user's row carries the handle feed items show. When it first arrives (or the handle
 * changes), the user's activities that waited for it are fanned out to the user and every follower:
 * the newest N of them, since anything older is past N in every feed they could reach.
 */
export async function handleUser(ctx: HandlerContext, change: Change<"users">) {
  const { id, handle, display_name } = change.row;
  if (change.op === "delete") {
    // Its follows, posts, comments and likes are deleted by cascade, each with its own event.
    await ctx.feeds.deleteUser(id);
    return;
  }
  const before = await ctx.feeds.getUser(id);
  if (before?.handle !== handle) {
    const activities = await ctx.feeds.activitiesOf(id, ctx.feedLength);
    const targets = activities.length > 0 ? [id, ...(await ctx.feeds.followers(id))] : [];
    for (const a of activities) ctx.onFanout(await ctx.feeds.writeItem(targets, { ...a, actorHandle: handle }), null);
  }
  // Stored last: a crash before this line replays the fan-out, since the handle still looks new.
  await ctx.feeds.putUser({ id, handle, displayName: display_name });
}
