import type { Change } from "../envelope";
import { deleteActivity, toActivity, upsertActivity } from "./activity";
import type { WriteContext } from "../../fanout/context";

/** A like is a LIKE by the liker; an unlike deletes the row and so the activity. */
export function handleLike(ctx: WriteContext, change: Change<"likes">) {
  const activity = toActivity.likes(change.row);
  return change.op === "upsert" ? upsertActivity(ctx, activity, change.sourceTs) : deleteActivity(ctx, activity);
}
