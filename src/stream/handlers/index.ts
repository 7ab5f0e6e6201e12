import type { Change } from "../envelope";
import type { Routed } from "../routing";
import { handleComment } from "./comments";
import type { HandlerContext } from "./context";
import { handleFollowActivity, handleFollowEdge } from "./follows";
import { handleLike } from "./likes";
import { handlePost } from "./posts";
import { handleUser } from "./users";

export type { HandlerContext } from "./context";

/** Dispatches one routed event to the handler of its source table. */
export function applyEvent(ctx: HandlerContext, e: Routed): Promise<void> {
  const change = <T>(row: T) => ({ op: e.op, row, sourceTs: e.sourceTs });
  switch (e.kind) {
    case "user":
      return handleUser(ctx, { table: "users", ...change(e.row) });
    case "edge":
      return handleFollowEdge(ctx, { table: "follows", ...change(e.row) });
    case "activity":
      switch (e.table) {
        case "posts":
          return handlePost(ctx, { table: "posts", ...change(e.row) } as Change<"posts">);
        case "comments":
          return handleComment(ctx, { table: "comments", ...change(e.row) } as Change<"comments">);
        case "likes":
          return handleLike(ctx, { table: "likes", ...change(e.row) } as Change<"likes">);
        case "follows":
          return handleFollowActivity(ctx, { table: "follows", ...change(e.row) } as Change<"follows">);
      }
  }
}
