/**
 * A typed tRPC client against a running feedline: two users sign up, one follows the other,
 * posts, likes and comments. Run: `npm run example -- [http://127.0.0.1:3100]`.
 * Types come from the server's AppRouter: a renamed procedure or a wrong input fails to compile.
 */
import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";
import type { AppRouter } from "../src/api";

const url = `${process.argv[2] ?? "http://127.0.0.1:3100"}/trpc`;

/** A client acting as whoever holds `token` (none for sign-up). */
function clientFor(token?: string) {
  return createTRPCClient<AppRouter>({
    links: [httpBatchLink({ url, headers: () => (token ? { authorization: `Bearer ${token}` } : {}) })],
  });
}

const suffix = Math.random().toString(36).slice(2, 8);
const anonymous = clientFor();

const alice = await anonymous.users.create.mutate({ handle: `alice_${suffix}`, displayName: "Alice" });
const bob = await anonymous.users.create.mutate({ handle: `bob_${suffix}`, displayName: "Bob" });
console.log(`signed up ${alice.user.handle} (${alice.user.id}) and ${bob.user.handle} (${bob.user.id})`);

const asAlice = clientFor(alice.token);
const asBob = clientFor(bob.token);

await asAlice.follows.follow.mutate({ userId: bob.user.id });
console.log(`${alice.user.handle} follows ${bob.user.handle}`);

// The idempotency key makes a retry after a timeout safe: the same key returns the same post.
const idempotencyKey = `example-${crypto.randomUUID()}`;
const post = await asBob.posts.create.mutate({ body: "Hello from the typed client!", idempotencyKey });
const retried = await asBob.posts.create.mutate({ body: "Hello from the typed client!", idempotencyKey });
console.log(`${bob.user.handle} posted ${post.id} (retry returned ${retried.id})`);

await asAlice.likes.like.mutate({ postId: post.id });
const comment = await asAlice.comments.create.mutate({ postId: post.id, body: "Welcome!" });
console.log(`${alice.user.handle} liked post ${post.id} and commented ${comment.id}`);

try {
  await asAlice.likes.like.mutate({ postId: post.id });
} catch (err) {
  if (!(err instanceof TRPCClientError)) throw err;
  console.log(`liking twice: ${err.data?.appCode} (${err.data?.httpStatus}): ${err.message}`);
}

// A page carries what renders each item: no call per item. The feed is eventually consistent, so
// the items arrive within moments of the writes, and so do the posts and users they render: a field
// is null only until its object's own change has been applied.
type Rendered = {
  object: { type: "post"; authorHandle: string | null; excerpt: string | null } | { type: "user"; handle: string | null };
  actors?: { handle: string | null }[];
};
const complete = (items: Rendered[], count: number) =>
  items.length >= count &&
  items.every(({ object: o, actors }) => (o.type === "user" ? o.handle !== null : o.authorHandle !== null && o.excerpt !== null) && (actors ?? []).every((a) => a.handle !== null));
const deadline = Date.now() + 10_000;
let page = await asAlice.feed.home.query({ limit: 10 });
while (!complete(page.items, 3) && Date.now() < deadline) {
  await Bun.sleep(200);
  page = await asAlice.feed.home.query({ limit: 10 });
}
for (const item of page.items) {
  const o = item.object;
  const about = o.type === "user" ? `@${o.handle} (${o.displayName})` : `@${o.authorHandle}'s post "${o.excerpt}"`;
  console.log(`${item.actor.handle} ${item.verb} ${about}${item.verb === "COMMENT" ? `: "${item.excerpt}"` : ""}`);
}

// Bob's notifications: what others did to him, grouped, with an unseen count.
const notificationsBy = Date.now() + 20_000;
let notifications = await asBob.notifications.list.query({});
while (!complete(notifications.items, 3) && Date.now() < notificationsBy) {
  await Bun.sleep(200);
  notifications = await asBob.notifications.list.query({});
}
console.log(`${bob.user.handle} has ${notifications.unseen} unseen notifications`);
for (const n of notifications.items) {
  const who = n.actors.map((a) => `@${a.handle}`).join(", ") + (n.actorCount > n.actors.length ? ` and ${n.actorCount - n.actors.length} others` : "");
  const what = n.object.type === "post" ? `your post "${n.object.excerpt}"` : "you";
  console.log(`notification: ${who} ${{ FOLLOW: "followed", LIKE: "liked", COMMENT: "commented on", MENTION: "mentioned you in" }[n.verb]} ${what}`);
}
console.log(`after markSeen: ${(await asBob.notifications.markSeen.mutate({})).unseen} unseen`);
