import { AppError, type ErrorCode, fromPostgresError } from "../errors";
import { type KeyLifetimes, once } from "./idempotency";
import { asUnavailable } from "../clients/outage";
import type { Sql, Tx } from "../clients/postgres";

/**
 * The write side: every user action is one PostgreSQL transaction, and only that. Debezium
 * turns the rows into change events; nothing here talks to Kafka, Cassandra or Redis.
 * Ids are bigint identities, strings on the wire.
 */
export function createWriteStore({ sql, keys }: { sql: Sql; keys: KeyLifetimes }) {
  /** One transaction; constraint violations become typed errors. */
  async function mutate<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    try {
      return (await sql.begin((tx) => fn(tx as unknown as Tx))) as T;
    } catch (err) {
      throw fromPostgresError(err, constraintErrors) ?? asUnavailable(err, "postgres") ?? err;
    }
  }

  /** Reads, and a write that is one statement (a transaction on its own: no BEGIN and COMMIT round trips). */
  async function direct<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw fromPostgresError(err, constraintErrors) ?? asUnavailable(err, "postgres") ?? err;
    }
  }

  return {
    createUser: (input: { handle: string; displayName?: string }, idem?: Idem) =>
      mutate((tx) =>
        // Scoped by handle: a key someone claimed first cannot block another handle's sign-up, and
        // replaying it needs the handle and display name too (docs/security.md).
        once(tx, idem && { ...idem, scope: `signup:${input.handle}`, procedure: "users.create", input, ttlSeconds: keys.signupSeconds }, async () => {
          const [row] = await tx`
            insert into users (handle, display_name) values (${input.handle}, ${input.displayName ?? null})
            returning id, handle, display_name, created_at`;
          return toUser(row!);
        }),
      ),

    getUser: (userId: string) =>
      direct(async () => {
        const [row] = await sql`select id, handle, display_name, created_at from users where id = ${userId}`;
        if (!row) throw new AppError("USER_NOT_FOUND", `user ${userId} does not exist`);
        return toUser(row);
      }),

    getUserByHandle: (handle: string) =>
      direct(async () => {
        const [row] = await sql`select id, handle, display_name, created_at from users where handle = ${handle}`;
        if (!row) throw new AppError("USER_NOT_FOUND", `no user has the handle ${handle}`);
        return toUser(row);
      }),

    follow: async (actorId: string, userId: string, idem?: Idem) => {
      if (actorId === userId) throw new AppError("CANNOT_FOLLOW_SELF", "you cannot follow yourself");
      return mutate((tx) =>
        once(tx, idem && { ...idem, scope: `user:${actorId}`, procedure: "follows.follow", ttlSeconds: keys.otherSeconds, input: { userId } }, async () => {
          const [row] = await tx`
            insert into follows (follower_id, followee_id) values (${actorId}, ${userId})
            returning follower_id, followee_id, created_at`;
          return { followerId: String(row!.follower_id), followeeId: String(row!.followee_id), createdAt: iso(row!.created_at) };
        }),
      );
    },

    unfollow: (actorId: string, userId: string) =>
      mutate(async (tx) => {
        const gone = await tx`delete from follows where follower_id = ${actorId} and followee_id = ${userId} returning 1`;
        if (gone.length === 0) throw new AppError("NOT_FOLLOWING", `you do not follow user ${userId}`);
        return { ok: true as const };
      }),

    createPost(actorId: string, input: { body: string }, idem?: Idem) {
      const insert = async (db: Sql | Tx) => {
        const [row] = await db`
          insert into posts (author_id, body) values (${actorId}, ${input.body})
          returning id, author_id, body, created_at`;
        return toPost(row!);
      };
      // Without a key the insert is the whole write: one round trip instead of three.
      if (!idem) return direct(() => insert(sql));
      return mutate((tx) => once(tx, { ...idem, scope: `user:${actorId}`, procedure: "posts.create", ttlSeconds: keys.otherSeconds, input }, () => insert(tx)));
    },

    /** Deletes the post and, first and in the same transaction, its likes and comments: every row's delete reaches the stream. */
    deletePost: (actorId: string, postId: string) =>
      mutate(async (tx) => {
        const [post] = await tx`select author_id from posts where id = ${postId} for update`;
        if (!post) throw new AppError("POST_NOT_FOUND", `post ${postId} does not exist`);
        if (String(post.author_id) !== actorId) throw new AppError("FORBIDDEN", "you can only delete your own posts");
        await tx`delete from likes where post_id = ${postId}`;
        await tx`delete from comments where post_id = ${postId}`;
        await tx`delete from posts where id = ${postId}`;
        return { ok: true as const };
      }),

    createComment: (actorId: string, input: { postId: string; body: string }, idem?: Idem) =>
      mutate((tx) =>
        once(tx, idem && { ...idem, scope: `user:${actorId}`, procedure: "comments.create", ttlSeconds: keys.otherSeconds, input }, async () => {
          const [row] = await tx`
            insert into comments (post_id, author_id, body) values (${input.postId}, ${actorId}, ${input.body})
            returning id, post_id, author_id, body, created_at`;
          return toComment(row!);
        }),
      ),

    deleteComment: (actorId: string, commentId: string) =>
      mutate(async (tx) => {
        const [comment] = await tx`select author_id from comments where id = ${commentId} for update`;
        if (!comment) throw new AppError("COMMENT_NOT_FOUND", `comment ${commentId} does not exist`);
        if (String(comment.author_id) !== actorId) throw new AppError("FORBIDDEN", "you can only delete your own comments");
        await tx`delete from comments where id = ${commentId}`;
        return { ok: true as const };
      }),

    like: (actorId: string, postId: string, idem?: Idem) =>
      mutate((tx) =>
        once(tx, idem && { ...idem, scope: `user:${actorId}`, procedure: "likes.like", ttlSeconds: keys.otherSeconds, input: { postId } }, async () => {
          const [row] = await tx`
            insert into likes (user_id, post_id) values (${actorId}, ${postId})
            returning user_id, post_id, created_at`;
          return { userId: String(row!.user_id), postId: String(row!.post_id), createdAt: iso(row!.created_at) };
        }),
      ),

    /**
     * Notification marks (docs/notifications.md): each is a time, and only ever grows (a mark
     * older than the one recorded changes nothing). Returns the marks as recorded.
     */
    markNotifications: (userId: string, marks: { groupId: string; seenAt?: Date; readAt?: Date }[]) =>
      mutate(async (tx) => {
        const out: { groupId: string; seenAt: Date | null; readAt: Date | null }[] = [];
        for (const m of marks) {
          const [row] = await tx`
            insert into notification_marks (user_id, group_id, seen_at, read_at) values (${userId}, ${m.groupId}, ${m.seenAt ?? null}, ${m.readAt ?? null})
            on conflict (user_id, group_id) do update set
              seen_at = greatest(notification_marks.seen_at, excluded.seen_at),
              read_at = greatest(notification_marks.read_at, excluded.read_at)
            returning seen_at, read_at`;
          out.push({ groupId: m.groupId, seenAt: row!.seen_at, readAt: row!.read_at });
        }
        return out;
      }),

    unlike: (actorId: string, postId: string) =>
      mutate(async (tx) => {
        const gone = await tx`delete from likes where user_id = ${actorId} and post_id = ${postId} returning 1`;
        if (gone.length === 0) throw new AppError("NOT_LIKED", `you have not liked post ${postId}`);
        return { ok: true as const };
      }),
  };
}

export type WriteStore = ReturnType<typeof createWriteStore>;

/** A client's idempotency key for a create mutation. */
export type Idem = { key: string };

const tokenUserGone: [ErrorCode, string] = ["UNAUTHENTICATED", "the token's user no longer exists"];

/** Constraint name → the error a client sees: the schema enforces, this names why. */
const constraintErrors: Record<string, [ErrorCode, string]> = {
  users_handle_key: ["HANDLE_TAKEN", "that handle is already taken"],
  follows_pkey: ["ALREADY_FOLLOWING", "you already follow this user"],
  follows_not_self: ["CANNOT_FOLLOW_SELF", "you cannot follow yourself"],
  follows_followee_id_fkey: ["USER_NOT_FOUND", "the user to follow does not exist"],
  follows_follower_id_fkey: tokenUserGone,
  likes_pkey: ["ALREADY_LIKED", "you already like this post"],
  likes_post_id_fkey: ["POST_NOT_FOUND", "the post does not exist"],
  likes_user_id_fkey: tokenUserGone,
  notification_marks_user_id_fkey: tokenUserGone,
  posts_author_id_fkey: tokenUserGone,
  comments_post_id_fkey: ["POST_NOT_FOUND", "the post does not exist"],
  comments_author_id_fkey: tokenUserGone,
};

type Row = Record<string, unknown>;

const iso = (value: unknown) => (value instanceof Date ? value : new Date(String(value))).toISOString();

function toUser(row: Row) {
  return { id: String(row.id), handle: String(row.handle), displayName: (row.display_name as string | null) ?? null, createdAt: iso(row.created_at) };
}

function toPost(row: Row) {
  return { id: String(row.id), authorId: String(row.author_id), body: String(row.body), createdAt: iso(row.created_at) };
}

function toComment(row: Row) {
  return { id: String(row.id), postId: String(row.post_id), authorId: String(row.author_id), body: String(row.body), createdAt: iso(row.created_at) };
}

export type User = ReturnType<typeof toUser>;
export type Post = ReturnType<typeof toPost>;
export type Comment = ReturnType<typeof toComment>;
