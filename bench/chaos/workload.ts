import { TRPCClientError } from "@trpc/client";
import { apiClient } from "../pipeline";
import { seededRandom } from "../support";

/**
 * The chaos suite's writer: a steady stream of follows, unfollows, posts, deletes, likes, unlikes,
 * comments and comment deletes among a set of users, sent through the public API as a typed tRPC
 * client would, while components are killed under it. Every create carries an idempotency key,
 * and a request that fails with a retryable error (503 `canRetry`, or no answer at all) is sent
 * again with the same key until it is answered: so every write lands exactly once. Retried
 * requests are counted, with their time, as "rejected during an outage".
 */
export type Client = ReturnType<typeof apiClient>;

/** A write whose answer is not final: the service said "retry", or did not answer. */
export function isRetryable(err: unknown) {
  if (!(err instanceof TRPCClientError)) return false;
  const data = err.data as { canRetry?: boolean } | undefined;
  return data?.canRetry === true || data === undefined || data === null; // no data: the request never got a tRPC answer
}

export interface WorkloadStats {
  done: number;
  refused: number;
  /** Times (ms) at which a write that was answered "retry", or not at all, and retried, was sent. */
  rejectedAt: number[];
  /** Why, for each of those: the error's message. */
  rejectedWhy?: string[];
}

export interface ApiUser {
  id: string;
  token: string;
  as: Client;
}

/** Sends `call(key)` until it gets a final answer; a typed refusal (NOT_FOUND, CONFLICT…) is final. */
export async function untilAnswered<T>(stats: WorkloadStats, call: (key: string) => Promise<T>): Promise<T | undefined> {
  const key = `chaos-${crypto.randomUUID()}`;
  for (let attempt = 0; ; attempt++) {
    const started = Date.now();
    try {
      return await call(key);
    } catch (err) {
      if (isRetryable(err)) {
        // When the request was sent, not when it failed: a connection that times out after 30 s
        // belongs to the fault that was on when it started.
        stats.rejectedAt.push(started);
        stats.rejectedWhy?.push((err as Error).message);
        await Bun.sleep(Math.min(2000, 100 * 2 ** attempt));
        continue;
      }
      if (err instanceof TRPCClientError) {
        stats.refused++;
        return undefined;
      }
      throw err;
    }
  }
}

/** Signs `n` users up through the API (idempotent, retried like every write). */
export async function signUpMany(url: string, n: number, prefix: string, stats: WorkloadStats): Promise<ApiUser[]> {
  const anonymous = apiClient(url);
  const users: ApiUser[] = [];
  for (let i = 0; i < n; i++) {
    const handle = `${prefix}_${i}_${Math.random().toString(36).slice(2, 8)}`.slice(0, 30);
    const r = await untilAnswered(stats, (idempotencyKey) => anonymous.users.create.mutate({ handle, idempotencyKey }));
    if (!r) throw new Error(`could not sign ${handle} up`);
    users.push({ id: r.user.id, token: r.token, as: apiClient(url, r.token) });
  }
  return users;
}

/**
 * Runs random operations among `users` at `rate` per second (at most `inFlight` at once) until
 * `stop()` resolves. Seeded, so a failing run can be replayed.
 */
export async function runWorkload(opts: { users: ApiUser[]; rate: number; inFlight: number; seed: number; stats: WorkloadStats; until: Promise<void> }) {
  const { users, stats } = opts;
  const random = seededRandom(opts.seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
  const take = <T>(xs: T[]) => (xs.length ? xs.splice(Math.floor(random() * xs.length), 1)[0] : undefined);
  const posts: { id: string; author: ApiUser }[] = [];
  const comments: { id: string; author: ApiUser }[] = [];
  const likes: { user: ApiUser; postId: string }[] = [];
  const follows: { follower: ApiUser; followee: ApiUser }[] = [];
  const send = <T>(call: (key: string) => Promise<T>) => untilAnswered(stats, call);

  const operations: [weight: number, run: () => Promise<unknown>][] = [
    [4, async () => {
      const [a, b] = [pick(users), pick(users)];
      if (a !== b && (await send((idempotencyKey) => a.as.follows.follow.mutate({ userId: b.id, idempotencyKey })))) follows.push({ follower: a, followee: b });
    }],
    [1, async () => {
      const f = take(follows);
      if (f) await send(() => f.follower.as.follows.unfollow.mutate({ userId: f.followee.id }));
    }],
    [4, async () => {
      const author = pick(users);
      const p = await send((idempotencyKey) => author.as.posts.create.mutate({ body: `chaos ${random().toString(36).slice(2)}`, idempotencyKey }));
      if (p) posts.push({ id: p.id, author });
    }],
    [1, async () => {
      const p = posts.length > 5 ? take(posts) : undefined;
      if (p) await send(() => p.author.as.posts.delete.mutate({ postId: p.id }));
    }],
    [3, async () => {
      const [u, p] = [pick(users), posts.length ? pick(posts) : undefined];
      if (p && (await send((idempotencyKey) => u.as.likes.like.mutate({ postId: p.id, idempotencyKey })))) likes.push({ user: u, postId: p.id });
    }],
    [1, async () => {
      const l = take(likes);
      if (l) await send(() => l.user.as.likes.unlike.mutate({ postId: l.postId }));
    }],
    [3, async () => {
      const [u, p] = [pick(users), posts.length ? pick(posts) : undefined];
      const c = p && (await send((idempotencyKey) => u.as.comments.create.mutate({ postId: p.id, body: "a comment under fire", idempotencyKey })));
      if (c) comments.push({ id: c.id, author: u });
    }],
    [1, async () => {
      const c = comments.length > 3 ? take(comments) : undefined;
      if (c) await send(() => c.author.as.comments.delete.mutate({ commentId: c.id }));
    }],
  ];
  const table = operations.flatMap(([w, run]) => Array.from({ length: w }, () => run));

  let stopped = false;
  void opts.until.then(() => (stopped = true));
  const running = new Set<Promise<unknown>>();
  const interval = 1000 / opts.rate;
  let next = performance.now();
  while (!stopped) {
    while (running.size >= opts.inFlight) await Promise.race(running);
    const op = pick(table)().then(() => void stats.done++);
    running.add(op);
    void op.finally(() => running.delete(op));
    next += interval;
    const wait = next - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    else next = performance.now(); // behind (writes blocked by an outage): do not burst to catch up
  }
  await Promise.all(running);
}
