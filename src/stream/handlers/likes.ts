import { toActivity } from "../activities";
import type { Change } from "../envelope";
import { deleteActivity, upsertActivity } from "./activity";
import type { HandlerContext } from "./context";

/** A like is a LIKE by the liker; an unlike deletes the row and so the activity. */
export function handleLike(ctx: HandlerContext, change: Change<"likes">) {
  const activity = toActivity.likes(change.row);
  return change.op === "upsert" ? upsertActivity(ctx, activity, change.sourceTs) : deleteActivity(ctx, activity);
}
