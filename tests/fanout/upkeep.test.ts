import { describe, expect, test } from "bun:test";
import { createUpkeep } from "../../src/fanout/upkeep";
import type { FeedStore } from "../../src/feeds/store";
import { createMetrics } from "../../src/metrics";

// The upkeep's queue (src/fanout/upkeep.ts), over a store that records its calls: the trim
// itself is tested against Cassandra in upkeep.integration.test.ts.

/** A store whose feeds are short (nothing to trim); `upkept` waits until released and may fail. */
function fakeStore() {
  const state = { running: 0, most: 0, marked: [] as string[], failing: new Set<string>() };
  let release: () => void = () => {};
  let gate = new Promise<void>((resolve) => (release = resolve));
  const store = {
    async upkept(userId: string) {
      state.running++;
      state.most = Math.max(state.most, state.running);
      await gate;
      state.running--;
      if (state.failing.has(userId)) throw new Error("Cassandra is away");
      return null;
    },
    feedKeys: async () => [],
    below: async () => [],
    markUpkept: async (userId: string) => void state.marked.push(userId),
  } as unknown as FeedStore;
  return {
    store,
    state,
    open() {
      release();
    },
    close() {
      gate = new Promise<void>((resolve) => (release = resolve));
    },
  };
}

describe("the upkeep's queue", () => {
  test("runs at most `concurrency` upkeeps at once, in the order the reads came, each user once a day", async () => {
    const fake = fakeStore();
    const upkeep = createUpkeep({ feeds: fake.store, length: 500, metrics: createMetrics(), concurrency: 2 });
    for (const u of ["a", "b", "c", "d", "a", "b"]) upkeep.read(u);
    await Bun.sleep(10);
    expect(fake.state.running).toBe(2);
    fake.open();
    await upkeep.drained();
    expect(fake.state.most).toBe(2);
    expect(fake.state.marked).toEqual(["a", "b", "c", "d"]);
    upkeep.read("a"); // kept today already
    await upkeep.drained();
    expect(fake.state.marked).toEqual(["a", "b", "c", "d"]);
  });

  test("a full backlog queues nothing, and a later read asks again", async () => {
    const fake = fakeStore();
    const metrics = createMetrics();
    const upkeep = createUpkeep({ feeds: fake.store, length: 500, metrics, concurrency: 1, backlog: 2 });
    for (const u of ["a", "b", "c", "d"]) upkeep.read(u); // a runs; b and c wait; d finds the backlog full
    await Bun.sleep(10);
    expect(await metrics.render()).toContain("feedline_upkeep_pending 3"); // a running, b and c waiting
    fake.open();
    await upkeep.drained();
    expect(fake.state.marked).toEqual(["a", "b", "c"]);
    upkeep.read("d");
    await upkeep.drained();
    expect(fake.state.marked).toEqual(["a", "b", "c", "d"]);
    expect(await metrics.render()).toContain("feedline_upkeep_pending 0");
  });

  test("a failed upkeep is retried on a later read", async () => {
    const fake = fakeStore();
    fake.state.failing.add("a");
    const upkeep = createUpkeep({ feeds: fake.store, length: 500, metrics: createMetrics() });
    fake.open();
    const warn = console.warn;
    console.warn = () => {};
    try {
      upkeep.read("a");
      await upkeep.drained();
    } finally {
      console.warn = warn;
    }
    expect(fake.state.marked).toEqual([]);
    fake.state.failing.delete("a");
    upkeep.read("a");
    await upkeep.drained();
    expect(fake.state.marked).toEqual(["a"]);
  });

  test("a feed Redis marks as kept is not asked of Cassandra; one Cassandra says was kept is marked until its day ends", async () => {
    const day = 86_400_000;
    const now = Date.now();
    const asked: string[] = [];
    const kept = new Map<string, number>([["b", now - 3_600_000]]);
    const store = {
      upkept: async (userId: string) => (asked.push(userId), kept.has(userId) ? new Date(kept.get(userId)!) : null),
      feedKeys: async () => [],
      below: async () => [],
      markUpkept: async (userId: string, at: Date) => void kept.set(userId, at.getTime()),
    } as unknown as FeedStore;
    const marks = new Map<string, number>([["a", now + day / 2]]);
    const registry = {
      raise: async (userId: string, untilMs: number) => void marks.set(userId, Math.max(marks.get(userId) ?? 0, untilMs)),
      registered: async (userIds: string[]) => userIds.filter((u) => (marks.get(u) ?? 0) > Date.now()),
    };
    const upkeep = createUpkeep({ feeds: store, length: 500, metrics: createMetrics(), marks: registry });
    for (const u of ["a", "b", "c"]) upkeep.read(u);
    await upkeep.drained();
    expect(asked).toEqual(["b", "c"]); // a: marked in Redis
    expect(marks.get("b")).toBe(now - 3_600_000 + day); // due when Cassandra's day for it ends, not a day from now
    expect(marks.get("c")).toBe(kept.get("c")! + day); // kept now
  });

  test("without Redis the upkeep asks Cassandra, and a mark that fails is no failure", async () => {
    const fake = fakeStore();
    const away = async () => {
      throw new Error("Redis is away");
    };
    const upkeep = createUpkeep({ feeds: fake.store, length: 500, metrics: createMetrics(), marks: { raise: away, registered: away } });
    fake.open();
    upkeep.read("a");
    await upkeep.drained();
    expect(fake.state.marked).toEqual(["a"]);
  });
});
