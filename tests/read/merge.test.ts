import { describe, expect, test } from "bun:test";
import { mergePages } from "../../src/read/merge";
import type { WireItem } from "../../src/model/feed";

const item = (id: string, at: number, handle = "x"): WireItem => ({
  id,
  verb: "SHARD",
  actor: { id: "a", handle },
  object: { type: "post", id, authorId: "a" },
  postId: id,
  excerpt: null,
  createdAt: new Date(at).toISOString(),
});

describe("merging a home page with pulled accounts", () => {
  test("takes the first n of all lists in feed order: newer first, equal times by the larger id", () => {
    const own = [item("shard:9", 900), item("shard:5", 500), item("shard:1", 100)];
    const pulled = [[item("shard:8", 800), item("shard:4", 400)], [item("shard:7", 500), item("shard:2", 200)]];
    expect(mergePages(4, own, pulled).map((i) => i.id)).toEqual(["shard:9", "shard:8", "shard:7", "shard:5"]);
    expect(mergePages(10, own, pulled).map((i) => i.id)).toEqual(["shard:9", "shard:8", "shard:7", "shard:5", "shard:4", "shard:2", "shard:1"]);
  });

  test("shows an item pushed before its account was pulled once, as the account's own list has it", () => {
    const own = [item("shard:3", 300, "old_handle"), item("shard:1", 100)];
    const pulled = [[item("shard:3", 300, "new_handle")]];
    const merged = mergePages(10, own, pulled);
    expect(merged.map((i) => i.id)).toEqual(["shard:3", "shard:1"]);
    expect(merged[0]!.actor.handle).toBe("new_handle");
  });

  test("with nothing pulled in, is the feed's own page", () => {
    const own = [item("shard:2", 200), item("shard:1", 100)];
    expect(mergePages(2, own, [])).toEqual(own);
  });
});
