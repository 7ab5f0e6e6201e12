import { z } from "zod";
import { DecodeError } from "./decode-error";
import { type Change, describe, parseJson, rowSchemasWith } from "./envelope";
import { toAction } from "./handlers/notifications";

/**
 * The router re-keys every change by the user whose serial stream must handle it, onto one
 * internal topic (default partitioner: same key, same partition). The feed worker then handles
 * all events of one user in order, and each feed row is decided by exactly one user's stream:
 * see docs/stream.md for why that makes the feeds converge whatever the topics' relative order.
 *
 * - a user's own row → that user
 * - a post, comment or like → its actor (author, commenter, liker)
 * - a follow → twice: as an edge to the followee (who gains a follower, and is notified of it)
 *   and as a FOLLOW activity to the follower
 * - a like or comment → also to the post's author, who is notified of it (not when it is their own)
 * - a mention → to the user mentioned, who is notified of it (not when they mentioned themselves)
 * - a notification mark → to the user who made it
 */
export type Routed =
  | ({ kind: "user" } & Change<"users">)
  | ({ kind: "edge" } & Change<"follows">)
  | ({ kind: "activity" } & Change<"posts" | "comments" | "likes" | "follows">)
  | ({ kind: "notify" } & Change<"likes" | "comments" | "mentions">)
  | ({ kind: "marks" } & Change<"notification_marks">);

export function route(change: Change): { key: string; event: Routed }[] {
  switch (change.table) {
    case "users":
      return [{ key: change.row.id, event: { kind: "user", ...change } }];
    case "posts":
      return [{ key: change.row.author_id, event: { kind: "activity", ...change } }];
    case "comments":
      return [{ key: change.row.author_id, event: { kind: "activity", ...change } }, ...notify(change)];
    case "likes":
      return [{ key: change.row.user_id, event: { kind: "activity", ...change } }, ...notify(change)];
    case "follows":
      return [
        { key: change.row.followee_id, event: { kind: "edge", ...change } },
        { key: change.row.follower_id, event: { kind: "activity", ...change } },
      ];
    case "mentions":
      return notify(change);
    case "notification_marks":
      return [{ key: change.row.user_id, event: { kind: "marks", ...change } }];
  }
}

/**
 * To the user the change notifies, if any: who that is (never the actor; nobody for rows captured
 * before migration 005 named the post's author) is toAction's to say, for the router and the handler alike.
 */
function notify(change: Change<"likes" | "comments" | "mentions">): { key: string; event: Routed }[] {
  const action = toAction[change.table](change.row as never);
  return action ? [{ key: action.recipient, event: { kind: "notify", ...change } }] : [];
}

const common = { op: z.enum(["upsert", "delete"]), sourceTs: z.number() };
/** On the internal topic, ids are decimal strings already. */
const rows = rowSchemasWith(z.string().regex(/^[1-9]\d{0,18}$/));

const routedSchema = z.union([
  // Events written before user and edge events carried their table read as if they did.
  z.object({ kind: z.literal("user"), table: z.literal("users").default("users"), row: rows.users, ...common }),
  z.object({ kind: z.literal("edge"), table: z.literal("follows").default("follows"), row: rows.follows, ...common }),
  z.object({ kind: z.literal("activity"), table: z.literal("posts"), row: rows.posts, ...common }),
  z.object({ kind: z.literal("activity"), table: z.literal("comments"), row: rows.comments, ...common }),
  z.object({ kind: z.literal("activity"), table: z.literal("likes"), row: rows.likes, ...common }),
  z.object({ kind: z.literal("activity"), table: z.literal("follows"), row: rows.follows, ...common }),
  z.object({ kind: z.literal("notify"), table: z.literal("likes"), row: rows.likes, ...common }),
  z.object({ kind: z.literal("notify"), table: z.literal("comments"), row: rows.comments, ...common }),
  z.object({ kind: z.literal("notify"), table: z.literal("mentions"), row: rows.mentions, ...common }),
  z.object({ kind: z.literal("marks"), table: z.literal("notification_marks"), row: rows.notification_marks, ...common }),
]);

export function encodeRouted(event: Routed) {
  return JSON.stringify(event);
}

export function decodeRouted(value: Buffer | null): Routed {
  if (!value) throw new DecodeError("empty message on the events topic");
  const parsed = routedSchema.safeParse(parseJson(value));
  if (!parsed.success) throw new DecodeError(`not a routed event: ${describe(parsed.error)}`);
  return parsed.data;
}
