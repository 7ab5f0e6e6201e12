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
});
