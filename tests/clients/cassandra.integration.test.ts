import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Services } from "../../src/services";
import { openServices } from "../support/stack";

let services: Services;
const userId = `test-${crypto.randomUUID()}`;

beforeAll(async () => {
  services = await openServices();
});

afterAll(async () => {
  await services.cassandra.execute("DELETE FROM home_feed WHERE user_id = ?", [userId]);
  await services.close();
});

describe("Cassandra under Bun", () => {
  test("a prepared, unlogged single-partition batch round-trips newest first, and a replayed write is an upsert", async () => {
    const insert = "INSERT INTO home_feed (user_id, created_at, activity_id, verb, actor_id, actor_handle, object_type, object_id, excerpt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    const items = [1, 2, 3].map((n) => ({
      query: insert,
      params: [userId, new Date(Date.UTC(2026, 0, 1, 0, 0, n)), `shard:${n}`, "SHARD", "42", "alice", "post", String(n), `post ${n}`],
    }));
    await services.cassandra.batch(items, { logged: false });
    await services.cassandra.batch(items.slice(1), { logged: false }); // replay

    const rows = (await services.cassandra.execute("SELECT activity_id, actor_handle FROM home_feed WHERE user_id = ?", [userId])).rows;
    expect(rows.map((r) => r.activity_id)).toEqual(["shard:3", "shard:2", "shard:1"]);
    expect(rows[0]!.actor_handle).toBe("alice");
  });
});
