import { describe, expect, test } from "bun:test";
import { type FeedItem, type Stored, toWireItem, wireOf } from "../../src/model/feed";
import type { Activity } from "../../src/model/activity";
import { eventually, useServices } from "../support/stack";
import { createFeedStore } from "../../src/feeds/store";

// home_feed and activities_by_actor rows hold their fields in one cell (`item`, migrations 006 and
// 007); rows written before hold them in separate columns. Readers take whichever form was written last.
// Each test writes under users of its own; the run's keyspace is dropped after it.

const services = useServices();
const userId = `test-${crypto.randomUUID()}`;

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
const item = (n: number, handle: string): FeedItem => ({
  id: `like:7:${n}`,
  verb: "LIKE",
  actorId: "7",
  actorHandle: handle,
  object: { type: "post", id: String(n), authorId: "9" },
  postId: String(n),
  excerpt: null,
  createdAt: at(n),
});

/** A row as a process before migration 006 wrote it: each field in its own column. */
const writeOldForm = (i: FeedItem, ts: number, user = userId) =>
  services().cassandra.execute(
    `INSERT INTO home_feed (user_id, created_at, activity_id, verb, actor_id, actor_handle, object_type, object_id, object_author_id, post_id, excerpt)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`,
    [user, i.createdAt, i.id, i.verb, i.actorId, i.actorHandle, i.object.type, i.object.id, i.object.authorId, i.postId, i.excerpt, ts],
  );

describe("feed rows in one cell", () => {
  test("a row in either form reads back as the item written last, and is trimmed whole at its write time", async () => {
    const feeds = services().feeds;
    await writeOldForm(item(1, "old"), 1_000);
    await feeds.putItems(userId, [{ ...item(2, "new"), ts: 1_000 }]);
    expect(await feeds.feed(userId, 10)).toEqual([
      { ...item(2, "new"), ts: 1_000 },
      { ...item(1, "old"), ts: 1_000 },
    ]);
    const [cells] = (await services().cassandra.execute("SELECT item, verb FROM home_feed WHERE user_id = ? AND created_at = ? AND activity_id = ?", [userId, at(2), item(2, "").id])).rows;
    expect(cells!.verb).toBeNull(); // written as one cell only
    expect(JSON.parse(cells!.item)).toMatchObject({ id: "like:7:2", actor: { id: "7", handle: "new" } });

    // Written again in the other form, later: the later one is read.
    await feeds.putItems(userId, [{ ...item(1, "renamed"), ts: 2_000 }]);
    await writeOldForm(item(2, "older-process"), 3_000);
    expect((await feeds.feed(userId, 10)).map((i) => [i.actorHandle, i.ts])).toEqual([
      ["older-process", 3_000],
      ["renamed", 2_000],
    ]);
    // As the cache takes them (a rebuild): the same items, and each one's JSON the cache's text, a one-cell row's own.
    const cached = await feeds.cachedFeed(userId, 10);
    expect(cached.map((c) => [wireOf(c), c.ts])).toEqual((await feeds.feed(userId, 10)).map((i) => [toWireItem(i), i.ts]));
    expect(cached.map((c) => JSON.parse(c.json))).toEqual(cached.map(wireOf));

    // The upkeep's trim deletes a row at its write time: the later of the two forms', so nothing of it is left.
    const below = await feeds.below(userId, { createdAt: at(3), id: "" });
    expect(below.map((r) => r.ts)).toEqual([3_000, 2_000]);
    await feeds.deleteRows(userId, below);
    expect(await feeds.feed(userId, 10)).toEqual([]);
    expect((await services().cassandra.execute("SELECT * FROM home_feed WHERE user_id = ?", [userId])).rows).toEqual([]);
  });

  test("an activity in either form reads back as the one written last", async () => {
    const feeds = services().feeds;
    const activity = (n: number, excerpt: string): Activity => ({
      id: `shard:${n}`,
      verb: "SHARD",
      actorId: userId,
      object: { type: "post", id: String(n), authorId: userId },
      postId: String(n),
      excerpt,
      createdAt: at(n),
    });
    /** A row as a process before migration 007 wrote it. */
    const writeOldForm = (a: Activity, ts: number) =>
      services().cassandra.execute(
        `INSERT INTO activities_by_actor (actor_id, created_at, activity_id, verb, object_type, object_id, object_author_id, post_id, excerpt)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`,
        [userId, a.createdAt, a.id, a.verb, a.object.type, a.object.id, a.object.authorId, a.postId, a.excerpt, ts],
      );
    await writeOldForm(activity(1, "old"), 1_000);
    await feeds.putActivity(activity(2, "new"), 1_000);
    expect(await feeds.activities(userId, 10)).toEqual([
      { ...activity(2, "new"), ts: 1_000 },
      { ...activity(1, "old"), ts: 1_000 },
    ]);
    const [cells] = (await services().cassandra.execute("SELECT item, verb FROM activities_by_actor WHERE actor_id = ? AND created_at = ? AND activity_id = ?", [userId, at(2), "shard:2"])).rows;
    expect(cells!.verb).toBeNull(); // written as one cell only

    await writeOldForm(activity(2, "older-process"), 2_000);
    await feeds.putActivity(activity(1, "rewritten"), 3_000);
    expect(await feeds.activities(userId, 10)).toEqual([
      { ...activity(2, "older-process"), ts: 2_000 },
      { ...activity(1, "rewritten"), ts: 3_000 },
    ]);
  });

  test("FEEDLINE_CASSANDRA_ROW_FORM=columns writes the form an earlier build reads, and it reads back the same", async () => {
    const columns = createFeedStore({ cassandra: services().cassandra, fanout: services().config.stream.fanout, rowForm: "columns" });
    const other = `${userId}-columns`;
    await columns.putItem([other], item(5, "fanned"), 5_000);
    await columns.putItems(other, [{ ...item(6, "backfilled"), ts: 6_000 }]);
    await columns.putActivity({ ...item(7, ""), actorId: other }, 7_000);
    const rows = (await services().cassandra.execute("SELECT item, verb, actor_handle FROM home_feed WHERE user_id = ?", [other])).rows;
    expect(rows.map((r) => [r.item, r.verb, r.actor_handle])).toEqual([
      [null, "LIKE", "backfilled"],
      [null, "LIKE", "fanned"],
    ]);
    const [activity] = (await services().cassandra.execute("SELECT item, verb FROM activities_by_actor WHERE actor_id = ?", [other])).rows;
    expect([activity!.item, activity!.verb]).toEqual([null, "LIKE"]);
    expect(await services().feeds.feed(other, 10)).toEqual([
      { ...item(6, "backfilled"), ts: 6_000 },
      { ...item(5, "fanned"), ts: 5_000 },
    ]);
  });

  test("rows of an earlier build, once read, are written again in one cell at their own write time", async () => {
    const feeds = services().feeds;
    const reader = `${userId}-rewrite`;
    await writeOldForm(item(8, "old"), 8_000, reader);
    await feeds.putItems(reader, [{ ...item(9, "new"), ts: 9_000 }]);
    const expected = [
      { ...item(9, "new"), ts: 9_000 },
      { ...item(8, "old"), ts: 8_000 },
    ];
    expect(await feeds.feed(reader, 10)).toEqual(expected);
    const row = async () =>
      (await services().cassandra.execute("SELECT item, WRITETIME(item) AS item_ts, WRITETIME(verb) AS ts FROM home_feed WHERE user_id = ? AND created_at = ? AND activity_id = ?", [reader, at(8), item(8, "").id])).first();
    await eventually("the earlier build's row written in one cell", async () => ((await row())?.item ? true : undefined));
    const rewritten = (await row())!;
    expect([Number(rewritten.item_ts), Number(rewritten.ts)]).toEqual([8_000, 8_000]); // its own write time: anything written later still wins
    expect(JSON.parse(rewritten.item)).toEqual(toWireItem(item(8, "old")));
    expect(await feeds.feed(reader, 10)).toEqual(expected);

    // An activity the same way.
    const actor = `${userId}-rewrite-actor`;
    await services().cassandra.execute(
      `INSERT INTO activities_by_actor (actor_id, created_at, activity_id, verb, object_type, object_id, object_author_id, post_id, excerpt)
       VALUES (?, ?, ?, 'SHARD', 'post', '10', ?, '10', 'ten') USING TIMESTAMP 10000`,
      [actor, at(10), "shard:10", actor],
    );
    const activity: Stored<Activity> = { id: "shard:10", verb: "SHARD", actorId: actor, object: { type: "post", id: "10", authorId: actor }, postId: "10", excerpt: "ten", createdAt: at(10), ts: 10_000 };
    expect(await feeds.activities(actor, 10)).toEqual([activity]);
    const activityRow = async () => (await services().cassandra.execute("SELECT item, WRITETIME(item) AS item_ts FROM activities_by_actor WHERE actor_id = ?", [actor])).first();
    await eventually("the earlier build's activity written in one cell", async () => ((await activityRow())?.item ? true : undefined));
    expect(Number((await activityRow())!.item_ts)).toBe(10_000);
    expect(await feeds.activities(actor, 10)).toEqual([activity]);
  });
});
