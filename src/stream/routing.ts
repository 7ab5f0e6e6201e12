import { z } from "zod";
import { type Change, DecodeError, describe, parseJson, rowSchemasWith } from "./envelope";

/**
 * The router re-keys every change by the user whose serial stream must handle it, onto one
 * internal topic (default partitioner: same key, same partition). The feed worker then handles
 * all events of one user in order, and each feed row is decided by exactly one user's stream:
 * see docs/stream.md for why that makes the feeds converge whatever the topics' relative order.
 *
 * - a user's own row → that user
 * - a post, comment or like → its actor (author, commenter, liker)
 * - a follow → twice: as an edge to the followee (who gains a follower) and as a FOLLOW activity to the follower
 */
export type Routed =
  | { kind: "user"; op: "upsert" | "delete"; row: Change<"users">["row"]; sourceTs: number }
  | { kind: "activity"; table: "posts" | "comments" | "likes" | "follows"; op: "upsert" | "delete"; row: Change<"posts" | "comments" | "likes" | "follows">["row"]; sourceTs: number }
  | { kind: "edge"; op: "upsert" | "delete"; row: Change<"follows">["row"]; sourceTs: number };

export function route(change: Change): { key: string; event: Routed }[] {
  const { op, sourceTs } = change;
  switch (change.table) {
    case "users":
      return [{ key: change.row.id, event: { kind: "user", op, row: change.row, sourceTs } }];
    case "posts":
    case "comments":
      return [{ key: change.row.author_id, event: { kind: "activity", table: change.table, op, row: change.row, sourceTs } }];
    case "likes":
      return [{ key: change.row.user_id, event: { kind: "activity", table: "likes", op, row: change.row, sourceTs } }];
    case "follows":
      return [
        { key: change.row.followee_id, event: { kind: "edge", op, row: change.row, sourceTs } },
        { key: change.row.follower_id, event: { kind: "activity", table: "follows", op, row: change.row, sourceTs } },
      ];
  }
}

const common = { op: z.enum(["upsert", "delete"]), sourceTs: z.number() };
/** On the internal topic, ids are decimal strings already. */
const rows = rowSchemasWith(z.string().regex(/^[1-9]\d{0,18}$/));

const routedSchema = z.union([
  z.object({ kind: z.literal("user"), row: rows.users, ...common }),
  z.object({ kind: z.literal("edge"), row: rows.follows, ...common }),
  z.object({ kind: z.literal("activity"), table: z.literal("posts"), row: rows.posts, ...common }),
  z.object({ kind: z.literal("activity"), table: z.literal("comments"), row: rows.comments, ...common }),
  z.object({ kind: z.literal("activity"), table: z.literal("likes"), row: rows.likes, ...common }),
  z.object({ kind: z.literal("activity"), table: z.literal("follows"), row: rows.follows, ...common }),
]);

export function encodeRouted(event: Routed) {
  return JSON.stringify(event);
}

export function decodeRouted(value: Buffer | null): Routed {
  if (!value) throw new DecodeError("empty message on the events topic");
  const parsed = routedSchema.safeParse(parseJson(value));
  if (!parsed.success) throw new DecodeError(`not a routed event: ${describe(parsed.error)}`);
  return parsed.data as Routed;
}
