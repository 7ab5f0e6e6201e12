import { describe, expect, test } from "bun:test";
import { comesAfter, mergePages } from "../../src/read/merge";
import { type WireItem, feedOrder, positionOf } from "../../src/model/feed";

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

describe("feed order on the wire form", () => {
  test("is the order of the times, then of the ids, as feedOrder has it", () => {
    const times = [0, 1, 999, 1000, 86_400_000, 1_700_000_000_000, 1_700_000_000_001, 4_102_444_800_000];
    const items = times.flatMap((t, i) => [item(`shard:${i}a`, t), item(`shard:${i}b`, t)]).reverse();
    const merged = mergePages(items.length, items, []);
    const expected = [...items].sort((a, b) => feedOrder(positionOf(a), positionOf(b)));
    expect(merged.map((i) => i.id)).toEqual(expected.map((i) => i.id));
  });
});

describe("what a page after a cursor holds", () => {
  test("items older than the cursor, and at its time those with a smaller id; never the cursor's own item", () => {
    const at = { createdAt: new Date(500), id: "shard:5" };
    expect(comesAfter(item("shard:1", 499), at)).toBe(true);
    expect(comesAfter(item("shard:4", 500), at)).toBe(true);
    expect(comesAfter(item("shard:5", 500), at)).toBe(false);
    expect(comesAfter(item("shard:6", 500), at)).toBe(false);
    expect(comesAfter(item("shard:0", 501), at)).toBe(false);
  });
});
