import { describe, expect, test } from "bun:test";
import { isTrackedEnvelope } from "@trpc/server";
import { createCaller } from "../../src/api";
import { requestContext } from "../../src/app";
import { objectKey } from "../../src/feeds/objects";
import { type Item, refKey } from "../../src/model/feed";
import { excerptOf } from "../../src/model/activity";
import { callerFor, expectServedIsOracle, servedHomeItems, signUp } from "../support/api";
import { sharedWorker } from "../support/pipeline";
import { eventually, uniqueHandle, useServices } from "../support/stack";

// Enriched items (docs/stream.md, "Enriched items"): a page carries everything that renders each
// item, joined in at read time from objects that the objects' own streams write.

const services = useServices();

/** A reader who follows carol; alice wrote a post; bob has a display name. */
async function cast() {
  await sharedWorker();
  const s = services();
  const [reader, alice, carol] = [await signUp(s, "rd"), await signUp(s, "al"), await signUp(s, "ca")];
  const bobHandle = uniqueHandle("bo");
  const bob = await callerFor(s).users.create({ handle: bobHandle, displayName: "Bob Builder" });
  await reader.as.follows.follow({ userId: carol.user.id });
  const body = `first light over the hills ${"and far away ".repeat(30)}`;
  const post = await alice.as.posts.create({ body });
  // The objects' own streams write them, in no order with the items about them: until they are
  // stored, an item renders with nulls (docs/stream.md). The tests below are about rendering, so
  // they start once alice, bob and the post are known.
  const refs = [{ type: "user", id: alice.user.id }, { type: "user", id: bob.user.id }, { type: "post", id: post.id }] as const;
  await eventually("the objects of the cast", async () => {
    const looked = await s.objects.get([...refs]);
    return refs.every((r) => looked.get(refKey(r))) ? true : undefined;
  });
  return { reader, alice, carol, bob: bob.user, post, excerpt: excerptOf(post.body) };
}

const find = (items: Item[], id: string) => items.find((i) => i.id === id);

describe("enriched items", () => {
  test("a follower's page shows a like's and a comment's post with its author and excerpt, and a follow's user", async () => {
    const { reader, alice, carol, bob, post, excerpt } = await cast();
    await carol.as.likes.like({ postId: post.id });
    const comment = await carol.as.comments.create({ postId: post.id, body: "lovely" });
    await carol.as.follows.follow({ userId: bob.id });
    // Every item of the reader's feed, in order and rendered as PostgreSQL says.
    await expectServedIsOracle(services(), reader);

    const items = await servedHomeItems(reader);
    expect(excerpt).toHaveLength(280); // cut, with an ellipsis
    const postObject = { type: "post", id: post.id, authorId: alice.user.id, authorHandle: alice.user.handle, excerpt };
    expect(find(items, `like:${carol.user.id}:${post.id}`)).toMatchObject({ actor: { id: carol.user.id, handle: carol.user.handle }, object: postObject, excerpt: null });
    expect(find(items, `comment:${comment.id}`)).toMatchObject({ object: postObject, excerpt: "lovely" });
    expect(find(items, `follow:${carol.user.id}:${bob.id}`)).toMatchObject({ object: { type: "user", id: bob.id, handle: bob.handle, displayName: "Bob Builder" } });
  });

  test("profile pages (feed.user) render the same way", async () => {
    const { carol, alice, post } = await cast();
    await carol.as.likes.like({ postId: post.id });
    const page = await eventually("the like on carol's profile", async () => {
      const p = await callerFor(services()).feed.user({ userId: carol.user.id });
      return p.items.length > 0 ? p : undefined;
    });
    expect(page.items[0]!.object).toMatchObject({ type: "post", id: post.id, authorId: alice.user.id, authorHandle: alice.user.handle });
  });

  test("a live event carries the item rendered, as a page would", async () => {
    const { reader, carol, alice, post } = await cast();
    const abort = new AbortController();
    const headers = new Headers({ authorization: `Bearer ${reader.token}` });
    const events = await createCaller(requestContext(services(), headers), { signal: abort.signal }).feed.onItem();
    const received: Item[] = [];
    const consuming = (async () => {
      for await (const e of events) {
        const data = (isTrackedEnvelope(e) ? e[1] : e) as { type: string; item?: Item };
        if (data.item) received.push(data.item);
      }
    })();
    await eventually("the subscription to register", async () => ((await services().redis.zscore(services().live.registry.keyOf(reader.user.id), reader.user.id)) ? true : undefined));
    await carol.as.likes.like({ postId: post.id });
    const item = await eventually("the like on the live feed", () => find(received, `like:${carol.user.id}:${post.id}`));
    expect(item.object).toMatchObject({ type: "post", authorId: alice.user.id, authorHandle: alice.user.handle });
    abort.abort();
    await consuming;
  });

  test("a renamed user shows anew in every item about them, with no feed row rewritten", async () => {
    const { reader, alice, carol, post } = await cast();
    await carol.as.likes.like({ postId: post.id });
    await carol.as.follows.follow({ userId: alice.user.id });
    await expectServedIsOracle(services(), reader);
    const rowsBefore = await services().feeds.feed(reader.user.id, 100);
    const renamed = uniqueHandle("re");
    await services().sql`update users set handle = ${renamed}, display_name = 'Alice Again' where id = ${alice.user.id}`;
    await expectServedIsOracle(services(), reader); // the oracle reads the new handle
    const items = await servedHomeItems(reader);
    expect(find(items, `like:${carol.user.id}:${post.id}`)!.object).toMatchObject({ authorHandle: renamed });
    expect(find(items, `follow:${carol.user.id}:${alice.user.id}`)!.object).toMatchObject({ handle: renamed, displayName: "Alice Again" });
    // The reader's rows (carol's items) were not written again: the rename lives in one object.
    const rowsAfter = await services().feeds.feed(reader.user.id, 100);
    expect(rowsAfter.map((r) => [r.id, r.ts])).toEqual(rowsBefore.map((r) => [r.id, r.ts]));
  });

  test("the object cache refills a lost key from Cassandra, and an older write never replaces a newer one", async () => {
    const { alice, post, excerpt } = await cast();
    const ref = { type: "post" as const, id: post.id };
    const { objects, redis } = services();
    const want = { authorId: alice.user.id, excerpt };
    await eventually("the post's object", async () => ((await objects.get([ref])).get(`post:${post.id}`) ? true : undefined));
    const stored = await redis.get(objectKey(ref));
    await redis.del(objectKey(ref));
    expect((await objects.get([ref])).get(`post:${post.id}`)).toEqual(want);
    expect(await redis.get(objectKey(ref))).toBe(stored); // the same write time and value as the stream's put
    const ts = Number(stored!.split("|")[0]);
    expect(await objects.put(ref, { authorId: "0", excerpt: "stale" }, ts - 1)).toBe(0);
    expect((await objects.get([ref])).get(`post:${post.id}`)).toEqual(want);
  });

  test("a deleted post's object is gone, and the items about it leave with it", async () => {
    const { reader, alice, carol, post } = await cast();
    await carol.as.likes.like({ postId: post.id });
    await expectServedIsOracle(services(), reader);
    await alice.as.posts.delete({ postId: post.id });
    await expectServedIsOracle(services(), reader);
    await eventually("the post's object to be gone", async () => ((await services().objects.get([{ type: "post", id: post.id }])).get(`post:${post.id}`) === null ? true : undefined));
  });
});
