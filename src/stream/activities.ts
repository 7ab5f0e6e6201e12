import type { Rows } from "./envelope";

/**
 * An activity derived from a source row, with its deterministic id (FEED-SPEC): replaying the
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

const excerptLength = 280;
const excerpt = (text: string) => (text.length > excerptLength ? `${text.slice(0, excerptLength - 1)}…` : text);

export const toActivity = {
  posts: (r: Rows["posts"]): Activity => ({
    id: `shard:${r.id}`,
    verb: "SHARD",
    actorId: r.author_id,
    createdAt: new Date(r.created_at),
    object: { type: "post", id: r.id },
    postId: r.id,
    excerpt: excerpt(r.body),
  }),
  comments: (r: Rows["comments"]): Activity => ({
    id: `comment:${r.id}`,
    verb: "COMMENT",
    actorId: r.author_id,
    createdAt: new Date(r.created_at),
    object: { type: "post", id: r.post_id },
    postId: r.post_id,
    excerpt: excerpt(r.body),
  }),
  likes: (r: Rows["likes"]): Activity => ({
    id: `like:${r.user_id}:${r.post_id}`,
    verb: "LIKE",
    actorId: r.user_id,
    createdAt: new Date(r.created_at),
    object: { type: "post", id: r.post_id },
    postId: r.post_id,
    excerpt: null,
  }),
  follows: (r: Rows["follows"]): Activity => ({
    id: `follow:${r.follower_id}:${r.followee_id}`,
    verb: "FOLLOW",
    actorId: r.follower_id,
    createdAt: new Date(r.created_at),
    object: { type: "user", id: r.followee_id },
    postId: null,
    excerpt: null,
  }),
};
