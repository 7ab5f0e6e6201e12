import type { Change, Rows } from "../envelope";
import type { NotificationAction } from "../../model/notification";
import type { WriteContext } from "../../fanout/context";

/**
 * What a user is notified of (docs/notifications.md), in that user's stream: a like of or a
 * comment on their post, a mention of them (routed to them by the router, never their own), and
 * a follow of them (in the follow edge's handler, follows.ts).
 */
export function handleNotify(ctx: WriteContext, change: Change<"likes" | "comments" | "mentions">) {
  const action = toAction[change.table](change.row as never);
  if (!action) return Promise.resolve();
  return ctx.notifier.apply(action, change.op === "upsert" ? "add" : "remove", ctx.ts);
}

/**
 * A mark the user made, into the store. Marks only grow, and each is written with its own value
 * as its write time, so their order does not matter. A deleted mark (the user's deletion, by
 * cascade) is left: nothing reads the marks of a user who is gone.
 */
export async function handleMarks(ctx: WriteContext, change: Change<"notification_marks">) {
  if (change.op === "delete") return;
  const r = change.row;
  await ctx.notifier.mark(r.user_id, [{ groupId: r.group_id, seenAt: r.seen_at ? new Date(r.seen_at) : null, readAt: r.read_at ? new Date(r.read_at) : null }]);
}

/** The action a source row stands for, with its deterministic id; null when it notifies nobody (rows from before migration 005, one's own). */
export const toAction = {
  likes: (r: Rows["likes"]): NotificationAction | null =>
    r.post_author_id && r.post_author_id !== r.user_id
      ? { recipient: r.post_author_id, verb: "LIKE", id: `like:${r.user_id}:${r.post_id}`, actorId: r.user_id, createdAt: new Date(r.created_at), object: { type: "post", id: r.post_id, authorId: r.post_author_id } }
      : null,
  comments: (r: Rows["comments"]): NotificationAction | null =>
    r.post_author_id && r.post_author_id !== r.author_id
      ? { recipient: r.post_author_id, verb: "COMMENT", id: `comment:${r.id}`, actorId: r.author_id, createdAt: new Date(r.created_at), object: { type: "post", id: r.post_id, authorId: r.post_author_id } }
      : null,
  // The post a mention is on may be someone else's (a comment's post): its author is looked up with the post when a page renders it.
  mentions: (r: Rows["mentions"]): NotificationAction | null =>
    r.user_id !== r.author_id
      ? { recipient: r.user_id, verb: "MENTION", id: `mention:${r.id}`, actorId: r.author_id, createdAt: new Date(r.created_at), object: { type: "post", id: r.post_id, authorId: null } }
      : null,
  follows: (r: Rows["follows"]): NotificationAction => ({
    recipient: r.followee_id,
    verb: "FOLLOW",
    id: `follow:${r.follower_id}:${r.followee_id}`,
    actorId: r.follower_id,
    createdAt: new Date(r.created_at),
    object: { type: "user", id: r.followee_id, authorId: null },
  }),
};
