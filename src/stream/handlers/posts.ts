import { toActivity } from "../activities";
import type { Change } from "../envelope";
import { deleteActivity, upsertActivity } from "./activity";
import type { HandlerContext } from "./context";

/** A post is a SHARD by its author. Its comments and likes are deleted row by row before it (write API), so each leaves on its own. */
export function handlePost(ctx: HandlerContext, change: Change<"posts">) {
  const activity = toActivity.posts(change.row);
  return change.op === "upsert" ? upsertActivity(ctx, activity, change.sourceTs) : deleteActivity(ctx, activity);
}
