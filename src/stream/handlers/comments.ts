import { toActivity } from "../activities";
import type { Change } from "../envelope";
import { deleteActivity, upsertActivity } from "./activity";
import type { HandlerContext } from "./context";

/** A comment is a COMMENT by its author on a post. */
export function handleComment(ctx: HandlerContext, change: Change<"comments">) {
  const activity = toActivity.comments(change.row);
  return change.op === "upsert" ? upsertActivity(ctx, activity, change.sourceTs) : deleteActivity(ctx, activity);
}
