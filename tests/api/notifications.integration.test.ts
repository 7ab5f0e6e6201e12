import { describe, expect, test } from "bun:test";
import { createCaller } from "../../src/api";
import { requestContext } from "../../src/app";
import type { Notification } from "../../src/model/notification";
import { expectAppError, signUp, type User } from "../support/api";
import { expectNotificationsAreOracle, sharedWorker } from "../support/pipeline";
import { eventually, useServices } from "../support/stack";

// Notifications through the real pipeline (docs/notifications.md): each rule of FEED-SPEC's
// "Notifications", checked against the oracle computed from PostgreSQL and by its own example.

const services = useServices();

/** Waits until the user's notifications equal the oracle, and returns them as served. */
async function settled(u: User) {
  await expectNotificationsAreOracle(services(), [u.user.id]);
  return (await u.as.notifications.list({ limit: 100 })).items;
}

/** `n` (at most 5) fresh users. */
async function people(n: number) {
  await sharedWorker();
  return (await Promise.all(Array.from({ length: n }, () => signUp(services(), "nt")))) as [User, User, User, User, User];
}

describe("notifications", () => {
  test("a follow, a like, a comment and a mention by others each notify the user; their own never do", async () => {
    const [alice, bob] = await people(2);
    const post = await alice.as.posts.create({ body: "morning all" });
    await alice.as.likes.like({ postId: post.id });
    await alice.as.comments.create({ postId: post.id, body: `talking to myself @${alice.user.handle}` });
    await bob.as.follows.follow({ userId: alice.user.id });
    await bob.as.likes.like({ postId: post.id });
    await bob.as.comments.create({ postId: post.id, body: "hello" });
    await bob.as.posts.create({ body: `look at this, @${alice.user.handle}!` });
    const items = await settled(alice);
    expect(items.map((g) => g.verb).sort()).toEqual(["COMMENT", "FOLLOW", "LIKE", "MENTION"]);
    for (const g of items) expect(g.actors).toEqual([{ id: bob.user.id, handle: bob.user.handle }]);
    expect(items.find((g) => g.verb === "FOLLOW")!.object).toEqual({ type: "user", id: alice.user.id, handle: alice.user.handle, displayName: null });
    expect(items.find((g) => g.verb === "LIKE")!.object).toEqual({ type: "post", id: post.id, authorId: alice.user.id, authorHandle: alice.user.handle, excerpt: "morning all" });
    expect((await bob.as.notifications.list({})).items).toEqual([]);
  });

  test("likes of one post aggregate into one group; an unlike takes its actor out and the count follows; the last one takes the group", async () => {
    const [author, ...fans] = await people(5);
    const post = await author.as.posts.create({ body: "aggregate me" });
    for (const f of fans) await f.as.likes.like({ postId: post.id });
    let [group] = await settled(author);
    expect(group).toMatchObject({ verb: "LIKE", actorCount: 4, id: expect.stringMatching(new RegExp(`^like:${post.id}:\\d+$`)) });
    // The newest three actors, newest first.
    expect(group!.actors.map((a) => a.id)).toEqual(fans.slice(1).reverse().map((f) => f.user.id));
    await fans[3]!.as.likes.unlike({ postId: post.id });
    [group] = await settled(author);
    expect(group!.actorCount).toBe(3);
    expect(group!.actors.map((a) => a.id)).toEqual(fans.slice(0, 3).reverse().map((f) => f.user.id));
    for (const f of fans.slice(0, 3)) await f.as.likes.unlike({ postId: post.id });
    expect(await settled(author)).toEqual([]);
  });

  test("several comments by one actor count the actor once; deleting the post takes every group about it", async () => {
    const [author, chatty, quiet] = await people(3);
    const post = await author.as.posts.create({ body: "discuss" });
    const first = await chatty.as.comments.create({ postId: post.id, body: "one" });
    await chatty.as.comments.create({ postId: post.id, body: `two, cc @${author.user.handle}` });
    await quiet.as.comments.create({ postId: post.id, body: "three" });
    await quiet.as.likes.like({ postId: post.id });
    const groups = await settled(author);
    expect(groups.find((g) => g.verb === "COMMENT")).toMatchObject({ actorCount: 2 });
    await chatty.as.comments.delete({ commentId: first.id });
    expect((await settled(author)).find((g) => g.verb === "COMMENT")).toMatchObject({ actorCount: 2 });
    await author.as.posts.delete({ postId: post.id });
    expect(await settled(author)).toEqual([]);
  });

  test("mentions resolve @handles in posts and comments, not addresses or longer words", async () => {
    const [alice, bob] = await people(2);
    await bob.as.posts.create({ body: `mail me at bob@${alice.user.handle}.com or @${alice.user.handle}x` });
    const post = await bob.as.posts.create({ body: `@${alice.user.handle.toUpperCase()}, see this` });
    const groups = await settled(alice);
    expect(groups.map((g) => [g.verb, g.object.id])).toEqual([["MENTION", post.id]]);
    expect(groups[0]!.object).toMatchObject({ authorId: bob.user.id, authorHandle: bob.user.handle });
  });

  test("groups are unseen until markSeen and unread until markRead; a new action makes a group unseen again", async () => {
    const [alice, bob, carol] = await people(3);
    const post = await alice.as.posts.create({ body: "mark me" });
    await bob.as.likes.like({ postId: post.id });
    await bob.as.follows.follow({ userId: alice.user.id });
    await settled(alice);
    let list = await alice.as.notifications.list({});
    expect(list.unseen).toBe(2);
    expect(list.items.every((g) => !g.seen && !g.read)).toBe(true);
    expect(await alice.as.notifications.markSeen({})).toEqual({ unseen: 0 });
    list = await alice.as.notifications.list({});
    expect(list.unseen).toBe(0);
    expect(list.items.every((g) => g.seen && !g.read)).toBe(true);

    const like = list.items.find((g) => g.verb === "LIKE")!;
    expect(await alice.as.notifications.markRead({ ids: [like.id] })).toEqual({ ok: true });
    list = await alice.as.notifications.list({});
    expect(list.items.map((g) => [g.verb, g.read])).toEqual(expect.arrayContaining([["LIKE", true], ["FOLLOW", false]]));

    await carol.as.likes.like({ postId: post.id });
    await eventually("the like group to move on", async () => ((await alice.as.notifications.list({})).items[0]?.actorCount === 2 ? true : undefined));
    list = await alice.as.notifications.list({});
    expect(list.items[0]).toMatchObject({ verb: "LIKE", seen: false, read: false });
    expect(list.unseen).toBe(1);
    await alice.as.notifications.markRead({});
    list = await alice.as.notifications.list({});
    expect(list.items.every((g) => g.seen && g.read)).toBe(true);
    expect(list.unseen).toBe(0);
  });

  test("marking an unknown or malformed id is a typed error that marks nothing", async () => {
    const [alice, bob] = await people(2);
    const post = await alice.as.posts.create({ body: "x" });
    await bob.as.likes.like({ postId: post.id });
    const [like] = await settled(alice);
    const before = await services().sql`select count(*)::int as n from notification_marks where user_id = ${alice.user.id}`;
    await expectAppError(alice.as.notifications.markRead({ ids: [like!.id, `like:${post.id}:1`] }), "NOTIFICATION_NOT_FOUND", "NOT_FOUND");
    await expectAppError(alice.as.notifications.markRead({ ids: ["like:1:2; drop table users"] }), "INVALID_INPUT", "BAD_REQUEST");
    await expectAppError(bob.as.notifications.markRead({ ids: [like!.id] }), "NOTIFICATION_NOT_FOUND", "NOT_FOUND");
    expect(await services().sql`select count(*)::int as n from notification_marks where user_id = ${alice.user.id}`).toEqual(before);
    expect((await alice.as.notifications.list({})).items[0]!.read).toBe(false);
  });

  test("paging while groups update: an updated group moves to the top, and no group shows twice across pages", async () => {
    const [author, ...fans] = await people(4);
    const posts: { id: string }[] = [];
    for (let i = 0; i < 5; i++) posts.push(await author.as.posts.create({ body: `post ${i}` }));
    for (const p of posts) await fans[0]!.as.likes.like({ postId: p.id });
    await settled(author);
    const seen: Notification[] = [];
    let page = await author.as.notifications.list({ limit: 2 });
    seen.push(...page.items);
    // The oldest group (the first post's) gains a like: it moves above the cursor.
    await fans[1]!.as.likes.like({ postId: posts[0]!.id });
    await eventually("the first post's group to move to the top", async () =>
      (await author.as.notifications.list({ limit: 1 })).items[0]?.object.id === posts[0]!.id ? true : undefined,
    );
    while (page.nextCursor) {
      page = await author.as.notifications.list({ limit: 2, cursor: page.nextCursor });
      seen.push(...page.items);
    }
    const ids = seen.map((g) => g.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Every group not updated since the first page is reached; the updated one is at the top of a new first page.
    expect(ids.length).toBe(4);
    expect((await author.as.notifications.list({ limit: 1 })).items[0]).toMatchObject({ object: { id: posts[0]!.id }, actorCount: 2 });
  });

  test("onChange sends the unseen count at once, then each change with the group", async () => {
    const [alice, bob] = await people(2);
    const post = await alice.as.posts.create({ body: "live" });
    const abort = new AbortController();
    const headers = new Headers({ authorization: `Bearer ${alice.token}` });
    const events = await createCaller(requestContext(services(), headers), { signal: abort.signal }).notifications.onChange();
    const received: { unseen: number; item?: Notification }[] = [];
    const consuming = (async () => {
      for await (const e of events) received.push(e as never);
    })();
    await eventually("the first event", () => (received.length > 0 ? true : undefined));
    expect(received[0]).toEqual({ unseen: 0 });
    await bob.as.likes.like({ postId: post.id });
    const change = await eventually("the like on the stream", () => received.find((e) => e.item?.verb === "LIKE"));
    expect(change).toMatchObject({ unseen: 1, item: { actorCount: 1, actors: [{ id: bob.user.id }] } });
    await alice.as.notifications.markSeen({});
    await eventually("the mark on the stream", () => (received.at(-1)?.unseen === 0 && !received.at(-1)?.item ? true : undefined));
    abort.abort();
    await consuming;
  });
});
