import { describe, expect, test } from "bun:test";
import { itemsOf } from "../../src/feeds/cache-pages";
import type { WireItem } from "../../src/model/feed";

// The page script returns a page's entries as stored, one per line; the client strips their
// write times (src/feeds/cache-scripts.ts, feedPage).

const item = (id: string, excerpt: string | null): WireItem => ({
  id,
  verb: "SHARD",
  actor: { id: "7", handle: "ann" },
  object: { type: "post", id: "1", authorId: "7" },
  postId: "1",
  excerpt,
  createdAt: "2026-11-30T10:00:00.000Z",
});

describe("a cached page's entries", () => {
  test("become the items in order, each without its write time", () => {
    const [a, b] = [item("shard:1", "two words"), item("shard:2", null)];
    expect(itemsOf(`1700000000000001 ${JSON.stringify(a)}\n1700000000000000 ${JSON.stringify(b)}`)).toEqual([a, b]);
  });

  test("an empty page is no items; a removal marker is skipped", () => {
    const [a, b] = [item("shard:1", "a"), item("shard:3", "b")];
    expect(itemsOf("")).toEqual([]);
    expect(itemsOf(`17 ${JSON.stringify(a)}\n18 \n19 ${JSON.stringify(b)}`)).toEqual([a, b]);
  });

  test("text with newlines, spaces and separators survives: JSON escapes a newline", () => {
    const a = item("shard:9", 'line one\nline two, with spaces\r\n and "quotes"');
    expect(itemsOf(`42 ${JSON.stringify(a)}`)).toEqual([a]);
  });
});
