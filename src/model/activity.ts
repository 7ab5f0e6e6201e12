/**
 * An activity derived from a source row, with its deterministic id (docs/contract.md): replaying the
 * row's events can only rewrite the same activity, never add another.
 */
export interface Activity {
  id: string;
  verb: "SHARD" | "COMMENT" | "LIKE" | "FOLLOW";
  actorId: string;
  /** Event time: the source row's creation time. */
  createdAt: Date;
  object: { type: "post" | "user"; id: string };
  /** The post a COMMENT or LIKE is about (and a SHARD's own id), for removal when it goes. */
  postId: string | null;
  /** What a page shows of the object: the start of a post's or a comment's text. */
  excerpt: string | null;
}
