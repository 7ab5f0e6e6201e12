import type { Change } from "../envelope";
import { deleteActivity, toActivity, upsertActivity } from "./activity";
import type { WriteContext } from "../../fanout/context";

/**
 * A post is a SHARD by its author. Its comments and likes are deleted row by row before it (write
 * API), so each leaves on its own. The post is also the object other users' LIKE and COMMENT items
 * render (src/feeds/objects.ts): this stream, its author's, is the one that writes it.
 */
export async function handlePost(ctx: WriteContext, change: Change<"posts">) {
  const activity = toActivity.posts(change.row);
  const ref = { type: "post" as const, id: change.row.id };
  if (change.op === "upsert") {
    const post = { authorId: activity.actorId, excerpt: activity.excerpt! };
    await ctx.feeds.putPost(ref.id, post, ctx.ts);
    await ctx.objects.put(ref, post, ctx.ts);
    await upsertActivity(ctx, activity, change.sourceTs);
  } else {
    await deleteActivity(ctx, activity);
    await ctx.feeds.deletePost(ref.id, ctx.ts);
    await ctx.objects.put(ref, null, ctx.ts);
  }
}
