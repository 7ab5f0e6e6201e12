import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { toActivity } from "../../src/stream/handlers/activity";
import { DecodeError } from "../../src/stream/decode-error";
import { type Change, decodeChange } from "../../src/stream/envelope";
import { decodeRouted, encodeRouted, route } from "../../src/stream/routing";

/** Debezium envelopes captured from the local stack (kcat), one per table and op. */
const fixture = (name: string) => readFileSync(resolve(import.meta.dir, "../fixtures/debezium", `${name}.json`), "utf8");
const parsed = (name: string) => JSON.parse(fixture(name));

describe("Debezium envelope decoding", () => {
  test("an insert decodes to an upsert of the row after, ids as strings", () => {
    const change = decodeChange("posts", fixture("posts.c"))!;
    const raw = parsed("posts.c");
    expect(change).toMatchObject({ table: "posts", op: "upsert", sourceTs: raw.source.ts_ms });
    expect(change.row).toEqual({ ...raw.after, id: String(raw.after.id), author_id: String(raw.after.author_id) });
  });

  test("a delete decodes to the whole row before", () => {
    const change = decodeChange("likes", fixture("likes.d"))!;
    const raw = parsed("likes.d");
    expect(change).toMatchObject({ op: "delete", row: { user_id: String(raw.before.user_id), post_id: String(raw.before.post_id), created_at: raw.before.created_at } });
  });

  test("a snapshot read is an upsert like an insert", () => {
    const read = { ...parsed("users.c"), op: "r" };
    expect(decodeChange("users", JSON.stringify(read))).toMatchObject({ op: "upsert", row: { handle: read.after.handle } });
  });

  test("a tombstone is nothing to do", () => {
    expect(decodeChange("posts", null)).toBeNull();
  });

  test("what cannot be decoded is a DecodeError that says why", () => {
    const cases: [string, unknown, RegExp][] = [
      ["not JSON", "{oops", /value is not JSON/],
      ["no envelope", JSON.stringify({ hello: 1 }), /not a Debezium envelope: op/],
      ["another table's event", fixture("users.c"), /event of table users on the topic of posts/],
      ["a delete without before", JSON.stringify({ ...parsed("posts.d"), before: null }), /REPLICA IDENTITY FULL/],
      ["an id past 2^53", JSON.stringify({ ...parsed("posts.c"), after: { ...parsed("posts.c").after, id: 2 ** 53 + 2 } }), /bad posts row: id/],
      ["a row of the wrong shape", JSON.stringify({ ...parsed("posts.c"), after: { id: 1 } }), /bad posts row: author_id/],
    ];
    for (const [name, value, reason] of cases) {
      let error: unknown;
      try {
        decodeChange("posts", value as string);
      } catch (err) {
        error = err;
      }
      expect({ name, isDecodeError: error instanceof DecodeError }).toEqual({ name, isDecodeError: true });
      expect((error as Error).message).toMatch(reason);
    }
  });
});

describe("routing by user", () => {
  test("a follow goes to the followee as an edge and to the follower as a FOLLOW activity", () => {
    const change = decodeChange("follows", fixture("follows.c"))!;
    const raw = parsed("follows.c").after;
    expect(route(change).map((r) => [r.key, r.event.kind])).toEqual([
      [String(raw.followee_id), "edge"],
      [String(raw.follower_id), "activity"],
    ]);
  });

  test("posts, comments and likes go to their actor; a user's row to that user", () => {
    expect(route(decodeChange("posts", fixture("posts.c"))!)[0]!.key).toBe(String(parsed("posts.c").after.author_id));
    expect(route(decodeChange("comments", fixture("comments.c"))!)[0]!.key).toBe(String(parsed("comments.c").after.author_id));
    expect(route(decodeChange("likes", fixture("likes.c"))!)[0]!.key).toBe(String(parsed("likes.c").after.user_id));
    expect(route(decodeChange("users", fixture("users.c"))!)[0]!.key).toBe(String(parsed("users.c").after.id));
  });

  test("a like or comment also goes to its post's author, to be notified; never when it is their own, nor from rows that do not name the author", () => {
    const like = decodeChange("likes", fixture("likes.c"))! as Change<"likes">;
    expect(route(like).map((r) => r.event.kind)).toEqual(["activity"]); // captured before migration 005
    const named = { ...like, row: { ...like.row, post_author_id: "77" } };
    expect(route(named).map((r) => [r.key, r.event.kind])).toEqual([[like.row.user_id, "activity"], ["77", "notify"]]);
    expect(route({ ...named, row: { ...named.row, post_author_id: like.row.user_id } }).map((r) => r.event.kind)).toEqual(["activity"]);
    const comment = decodeChange("comments", fixture("comments.c"))! as Change<"comments">;
    expect(route({ ...comment, row: { ...comment.row, post_author_id: "77" } }).map((r) => [r.key, r.event.kind])).toEqual([[comment.row.author_id, "activity"], ["77", "notify"]]);
  });

  test("a mention goes to the user mentioned unless they wrote it; a mark to the user who made it", () => {
    const row = { id: "5", post_id: "9", comment_id: null, user_id: "3", author_id: "4", created_at: "2026-11-30T00:00:00Z" };
    const mention: Change = { table: "mentions", op: "upsert", row, sourceTs: 1 };
    expect(route(mention).map((r) => [r.key, r.event.kind])).toEqual([["3", "notify"]]);
    expect(route({ ...mention, row: { ...row, author_id: "3" } })).toEqual([]);
    const mark: Change = { table: "notification_marks", op: "upsert", row: { user_id: "3", group_id: "", seen_at: "2026-11-30T00:00:00Z", read_at: null }, sourceTs: 1 };
    expect(route(mark).map((r) => [r.key, r.event.kind])).toEqual([["3", "marks"]]);
    for (const { event } of [...route(mention), ...route(mark)]) expect(decodeRouted(Buffer.from(encodeRouted(event)))).toEqual(event);
  });

  test("a routed event survives the events topic unchanged", () => {
    for (const name of ["posts.c", "comments.d", "likes.c", "follows.d", "users.c"]) {
      const table = name.split(".")[0] as "posts";
      for (const { event } of route(decodeChange(table, fixture(name))!)) {
        expect(decodeRouted(Buffer.from(encodeRouted(event)))).toEqual(event);
      }
    }
    expect(() => decodeRouted(Buffer.from('{"kind":"user"}'))).toThrow(DecodeError);
  });
});

describe("activities", () => {
  test("ids are deterministic, derived from the source row", () => {
    const post = decodeChange("posts", fixture("posts.c"))!.row as Parameters<typeof toActivity.posts>[0];
    const like = decodeChange("likes", fixture("likes.c"))!.row as Parameters<typeof toActivity.likes>[0];
    const follow = decodeChange("follows", fixture("follows.c"))!.row as Parameters<typeof toActivity.follows>[0];
    const comment = decodeChange("comments", fixture("comments.c"))!.row as Parameters<typeof toActivity.comments>[0];
    expect(toActivity.posts(post).id).toBe(`shard:${post.id}`);
    expect(toActivity.likes(like).id).toBe(`like:${like.user_id}:${like.post_id}`);
    expect(toActivity.follows(follow).id).toBe(`follow:${follow.follower_id}:${follow.followee_id}`);
    expect(toActivity.comments(comment)).toMatchObject({ id: `comment:${comment.id}`, verb: "COMMENT", actorId: comment.author_id, object: { type: "post", id: comment.post_id } });
    expect(toActivity.posts(post)).toEqual(toActivity.posts(post));
  });

  test("the event time is the row's creation time, and long text is cut to an excerpt", () => {
    const row = { id: "5", author_id: "1", body: "x".repeat(1000), created_at: "2026-01-02T03:04:05.678901Z" };
    const a = toActivity.posts(row);
    expect(a.createdAt.toISOString()).toBe("2026-01-02T03:04:05.678Z");
    expect(a.excerpt!.length).toBe(280);
    expect(a.excerpt!.endsWith("…")).toBe(true);
  });
});
