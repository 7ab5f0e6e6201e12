import type { Change } from "../envelope";
import { deleteActivity, toActivity, upsertActivity } from "./activity";
import type { WriteContext } from "../../fanout/context";

/** A post is a SHARD by its author. Its comments and likes are deleted row by row before it (write API), so each leaves on its own. */
export function handlePost(ctx: WriteContext, change: Change<"posts">) {
  const activity = toActivity.posts(change.row);
  return change.op === "upsert" ? upsertActivity(ctx, activity, change.sourceTs) : deleteActivity(ctx, activity);
}
