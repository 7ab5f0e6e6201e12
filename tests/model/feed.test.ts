import { describe, expect, test } from "bun:test";
import { type Looked, type WireItem, refsOf, render } from "../../src/model/feed";

const base = { actor: { id: "1", handle: "carol" }, postId: null, excerpt: null, createdAt: "2026-11-30T00:00:00.000Z" };
const like: WireItem = { ...base, id: "like:1:7", verb: "LIKE", object: { type: "post", id: "7", authorId: "2" }, postId: "7" };
const follow: WireItem = { ...base, id: "follow:1:3", verb: "FOLLOW", object: { type: "user", id: "3", authorId: null } };
const shard: WireItem = { ...base, id: "shard:9", verb: "SHARD", object: { type: "post", id: "9", authorId: "1" }, postId: "9", excerpt: "mine" };

describe("rendering an item's object", () => {
  test("a SHARD needs nothing looked up: its post is its own and its author its actor", () => {
    expect(refsOf(shard)).toEqual([]);
    expect(render(shard, new Map()).object).toEqual({ type: "post", id: "9", authorId: "1", authorHandle: "carol", excerpt: "mine" });
  });

  test("a LIKE looks up its post and the post's author, and shows both", () => {
    expect(refsOf(like)).toEqual([{ type: "post", id: "7" }, { type: "user", id: "2" }]);
    const looked: Looked = new Map<string, never>([
      ["post:7", { authorId: "2", excerpt: "first light" } as never],
      ["user:2", { handle: "alice", displayName: "Alice" } as never],
    ]);
    expect(render(like, looked).object).toEqual({ type: "post", id: "7", authorId: "2", authorHandle: "alice", excerpt: "first light" });
  });

  test("an item captured before its row named the post's author takes the author from the post", () => {
    const old: WireItem = { ...like, object: { type: "post", id: "7", authorId: null } };
    expect(refsOf(old)).toEqual([{ type: "post", id: "7" }]);
    const looked: Looked = new Map<string, never>([
      ["post:7", { authorId: "2", excerpt: "first light" } as never],
      ["user:2", { handle: "alice", displayName: null } as never],
    ]);
    expect(render(old, looked).object).toMatchObject({ authorId: "2", authorHandle: "alice" });
  });

  test("a FOLLOW shows the followed user's handle and display name", () => {
    expect(refsOf(follow)).toEqual([{ type: "user", id: "3" }]);
    const looked: Looked = new Map<string, never>([["user:3", { handle: "bob", displayName: "Bob B" } as never]]);
    expect(render(follow, looked).object).toEqual({ type: "user", id: "3", handle: "bob", displayName: "Bob B" });
  });

  test("an object not known yet renders as nulls, keeping the item and its ids", () => {
    expect(render(like, new Map([["post:7", null]])).object).toEqual({ type: "post", id: "7", authorId: "2", authorHandle: null, excerpt: null });
    expect(render(follow, new Map()).object).toEqual({ type: "user", id: "3", handle: null, displayName: null });
  });
});
