import type { Routed } from "../routing";
import { handleComment } from "./comments";
import type { WriteContext } from "../../fanout/context";
import { handleFollowActivity, handleFollowEdge } from "./follows";
import { handleLike } from "./likes";
import { handlePost } from "./posts";
import { handleUser } from "./users";
import { handleMarks, handleNotify } from "./notifications";

export type { WriteContext } from "../../fanout/context";

/** Dispatches one routed event to the handler of its source table. */
export function applyEvent(ctx: WriteContext, e: Routed): Promise<void> {
  switch (e.kind) {
    case "user":
      return handleUser(ctx, e);
    case "edge":
      return handleFollowEdge(ctx, e);
    case "activity":
      switch (e.table) {
        case "posts":
          return handlePost(ctx, e);
        case "comments":
          return handleComment(ctx, e);
        case "likes":
          return handleLike(ctx, e);
        case "follows":
          return handleFollowActivity(ctx, e);
      }
    case "notify":
      return handleNotify(ctx, e);
    case "marks":
      return handleMarks(ctx, e);
  }
}
