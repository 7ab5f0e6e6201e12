import type { Change } from "../envelope";
import { deleteActivity, toActivity, upsertActivity } from "./activity";
import type { WriteContext } from "../../fanout/context";

/** A comment is a COMMENT by its author on a post. */
export function handleComment(ctx: WriteContext, change: Change<"comments">) {
  const activity = toActivity.comments(change.row);
  return change.op === "upsert" ? upsertActivity(ctx, activity, change.sourceTs) : deleteActivity(ctx, activity);
}
