import type { Services } from "../../src/services";
import { AppError } from "../../src/errors";
import { seededRandom } from "../../bench/support";
import { uniqueHandle } from "./stack";

const operationNames = ["follow", "unfollow", "post", "deletePost", "like", "unlike", "comment", "deleteComment"] as const;
type Operation = (typeof operationNames)[number];
const defaultWeights: Record<Operation, number> = { follow: 4, unfollow: 1, post: 4, deletePost: 1, like: 3, unlike: 1, comment: 3, deleteComment: 1 };

/**
 * A randomised workload of follows, unfollows, posts, deletes, likes, unlikes and comments among
 * `users` fresh users (a third of posts and comments mention someone, themselves included), written through the activity store (the write API's own code). Seeded, so
 * a failure can be replayed; typed refusals (ALREADY_LIKED and the like) are part of the game.
 */
export async function randomWorkload(
  services: Services,
  opts: {
    users: number;
    operations: number;
    seed: number;
    onProgress?: (done: number) => void;
    weights?: Partial<Record<Operation, number>>;
    /** Users to act as instead of `users` new ones (with their handles, for mentions). */
    existing?: { id: string; handle: string }[];
  },
) {
  const random = seededRandom(opts.seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
  const store = services.writes;
  const users: string[] = [];
  const handles: string[] = [];
  for (const user of opts.existing ?? []) {
    users.push(user.id);
    handles.push(user.handle);
  }
  for (let i = 0; !opts.existing && i < opts.users; i++) {
    const user = await store.createUser({ handle: uniqueHandle("w") });
    users.push(user.id);
    handles.push(user.handle);
  }
  const text = (what: string) => `${what} ${random().toString(36).slice(2)}${random() < 1 / 3 ? ` @${pick(handles)}` : ""}`;
  const posts: { id: string; author: string }[] = [];
  const comments: { id: string; author: string }[] = [];
  const likes: { user: string; post: string }[] = [];
  const follows: { follower: string; followee: string }[] = [];

  const operations: (() => Promise<unknown>)[] = [
    async () => {
      const [a, b] = [pick(users), pick(users)];
      if (a !== b) follows.push({ follower: a, followee: b }), await store.follow(a, b);
    },
    async () => {
      const f = follows.splice(Math.floor(random() * follows.length), 1)[0];
      if (f) await store.unfollow(f.follower, f.followee);
    },
    async () => {
      const author = pick(users);
      posts.push({ id: (await store.createPost(author, { body: text("post") })).id, author });
    },
    async () => {
      const p = posts.length > 3 ? posts.splice(Math.floor(random() * posts.length), 1)[0] : undefined;
      if (p) await store.deletePost(p.author, p.id);
    },
    async () => {
      const [u, p] = [pick(users), posts.length ? pick(posts) : undefined];
      if (p) likes.push({ user: u, post: p.id }), await store.like(u, p.id);
    },
    async () => {
      const l = likes.splice(Math.floor(random() * likes.length), 1)[0];
      if (l) await store.unlike(l.user, l.post);
    },
    async () => {
      const [u, p] = [pick(users), posts.length ? pick(posts) : undefined];
      if (p) comments.push({ id: (await store.createComment(u, { postId: p.id, body: text("a comment") })).id, author: u });
    },
    async () => {
      const c = comments.length > 2 ? comments.splice(Math.floor(random() * comments.length), 1)[0] : undefined;
      if (c) await store.deleteComment(c.author, c.id);
    },
  ];
  // Posts and follows more often than deletes, so feeds grow (unless the caller weighs otherwise).
  const weights = { ...defaultWeights, ...opts.weights };
  const table = operationNames.flatMap((name, i) => Array.from({ length: weights[name] }, () => operations[i]!));

  for (let done = 0; done < opts.operations; done++) {
    try {
      await pick(table)();
    } catch (err) {
      // The workload's own bookkeeping is approximate (a post deleted under a like, say): the
      // database refuses with a typed error and the next operation goes on.
      if (!(err instanceof AppError)) throw err;
    }
    opts.onProgress?.(done + 1);
  }
  return users;
}
