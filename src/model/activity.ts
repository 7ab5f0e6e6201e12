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
  /**
   * What the activity is about, by id: a post (with its author, when known: events captured
   * before the source rows named it lack it) or a user. A page renders it enriched
   * (src/read/enrich.ts).
   */
  object: { type: "post" | "user"; id: string; authorId: string | null };
  /** The post a COMMENT or LIKE is about (and a SHARD's own id), for removal when it goes. */
  postId: string | null;
  /** What a page shows of the object: the start of a post's or a comment's text. */
  excerpt: string | null;
}

const excerptLength = 280;
/** What an item shows of a post's or a comment's text: its first 280 characters, the last an ellipsis when cut. */
export const excerptOf = (text: string) => (text.length > excerptLength ? `${text.slice(0, excerptLength - 1)}…` : text);
