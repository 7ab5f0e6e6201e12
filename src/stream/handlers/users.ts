import type { Change } from "../envelope";
import type { WriteContext } from "../../fanout/context";
import { pushNewest, targetsOf } from "../../fanout/hybrid";

/**
 * A user's row carries the handle feed items show. When it first arrives (or the handle
 * changes), the user's activities that waited for it are fanned out to the user and every follower:
 * the newest N of them (anything older is past N in every feed they could reach, and those feeds
 * are cut there, so that removals complete them from the rest: src/fanout/complete.ts).
 * The user is also an object other users' items render: its handle and display name go to the
 * object cache, so a rename shows in every feed without rewriting other users' rows.
 */
export async function handleUser(ctx: WriteContext, change: Change<"users">) {
  const { id, handle, display_name } = change.row;
  const ref = { type: "user" as const, id };
  if (change.op === "delete") {
    // Its follows, posts, comments and likes are deleted by cascade, each with its own event.
    await ctx.feeds.deleteUser(id, ctx.ts);
    await ctx.objects.put(ref, null, ctx.ts);
    await ctx.fanout.account.drop(id);
    return;
  }
  const before = await ctx.feeds.getUser(id);
  // A new user counts as reading for the inactive window, as if they had read at sign-up.
  if (!before) await ctx.dormancy.seen(id);
  if (before?.handle !== handle) await pushNewest(ctx, id, handle, () => targetsOf(ctx, id));
  // Stored last: a crash before this line replays the fan-out, since the handle still looks new.
  await ctx.feeds.putUser({ id, handle, displayName: display_name }, ctx.ts);
  // What other users' FOLLOW items and the items on this user's posts render (src/feeds/objects.ts).
  await ctx.objects.put(ref, { handle, displayName: display_name }, ctx.ts);
  // The account's cache holds its items with their handle: dropped after the user row is stored
  // (a rebuild that read the old handle cannot finish once its cache is gone), at every user
  // event so that a replay after a crash drops it too. The next page of a follower rebuilds it.
  await ctx.fanout.account.drop(id);
}
