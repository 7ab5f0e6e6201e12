import { describe, expect, test } from "bun:test";
import cassandra from "cassandra-driver";
import type { CassandraClient } from "../../src/clients/cassandra";
import { createPageRows, itemColumns } from "../../src/feeds/rows";

// Which form a page of feed rows is read in (src/feeds/rows.ts): the one-cell form alone, and both
// forms only when a row needs them. What each form reads back as is tested against Cassandra in
// store.integration.test.ts.

const long = (n: number) => cassandra.types.Long.fromNumber(n);
const cellRow = (ts: number, columnsTs: number | null = null) => ({ item: "{}", item_ts: long(ts), ts: columnsTs === null ? null : long(columnsTs) });
const columnsRow = (ts: number) => ({ item: null, item_ts: null, ts: long(ts) });

/** A client that answers every query with `rows` and records the queries. */
function fakeDb(rows: object[]) {
  const queries: string[] = [];
  const db = { execute: async (query: string) => (queries.push(query), { rows }) } as unknown as CassandraClient;
  return { db, queries };
}
const both = (q: string) => q.includes("actor_handle");
/** A rewrite that records the rows it was given. */
function recorder() {
  const rewritten: object[][] = [];
  return { rewritten, rewrite: async (_id: string, rows: object[]) => void rewritten.push(rows) };
}

describe("reading a page of feed rows", () => {
  test("rows all in one cell, written last: one read, of the cell alone", async () => {
    const { db, queries } = fakeDb([cellRow(2_000), cellRow(2_000, 1_000), cellRow(3_000, 3_000)]);
    const { rewritten, rewrite } = recorder();
    await createPageRows(db, "home_feed", "user_id", itemColumns, false, rewrite)("u", 51);
    expect(queries.map(both)).toEqual([false]);
    expect(rewritten).toEqual([]);
    expect(queries[0]).toContain("WRITETIME(verb)");
  });

  test("a row without a cell, or whose separate columns were written later: read again in both forms, and that row written in one cell", async () => {
    for (const odd of [columnsRow(1_000), cellRow(1_000, 2_000)]) {
      const { db, queries } = fakeDb([cellRow(2_000), odd]);
      const { rewritten, rewrite } = recorder();
      await createPageRows(db, "home_feed", "user_id", itemColumns, false, rewrite)("u", 51, { createdAt: new Date(0), id: "x" });
      expect(queries.map(both)).toEqual([false, true]);
      expect(rewritten).toEqual([[odd]]);
      expect(queries.every((q) => q.includes("(created_at, activity_id) < (?, ?)"))).toBe(true);
    }
  });

  test("with the `columns` row form (a rolling upgrade): both forms at once, and nothing rewritten", async () => {
    const { db, queries } = fakeDb([cellRow(2_000), columnsRow(1_000)]);
    const { rewritten, rewrite } = recorder();
    await createPageRows(db, "home_feed", "user_id", itemColumns, true, rewrite)("u", 51);
    expect(queries.map(both)).toEqual([true]);
    expect(rewritten).toEqual([]);
  });
});
