import { describe, expect, test } from "bun:test";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { leased } from "../../src/api/rate-limits";

/** A shared count (as Redis is to every API process) that records how often it is asked. */
function sharedCount(points: number, duration = 60) {
  const store = new RateLimiterMemory({ points, duration });
  const asked: number[] = [];
  const consume = store.consume.bind(store);
  store.consume = (key: string | number, n?: number, options?: { [key: string]: unknown }) => {
    asked.push(n ?? 1);
    return consume(key, n, options);
  };
  return { store, asked };
}

/** Calls `consume` n times one after the other: how many were let through before the first refusal, and whether one was refused. */
async function drawUntilRefused(consume: (key: string) => Promise<unknown>, key: string, n: number) {
  let passed = 0;
  for (let i = 0; i < n; i++) {
    try {
      await consume(key);
      passed++;
    } catch (err) {
      expect(err).toBeInstanceOf(RateLimiterRes);
      return { passed, refused: true };
    }
  }
  return { passed, refused: false };
}

describe("read budgets drawn in leases", () => {
  test("in one process the budget is exact, with one round trip per lease (the last one what was left)", async () => {
    const { store, asked } = sharedCount(25);
    const consume = leased(store, 10);
    expect(await drawUntilRefused(consume, "u", 40)).toEqual({ passed: 25, refused: true });
    expect(asked).toEqual([10, 10, 10, 10]); // the third lease had 5 left; the fourth was refused
    expect(await drawUntilRefused(consume, "other", 3)).toEqual({ passed: 3, refused: false }); // keys are apart
  });

  test("concurrent calls wait for one lease rather than each take one", async () => {
    const { store, asked } = sharedCount(100);
    const consume = leased(store, 10);
    await Promise.all(Array.from({ length: 10 }, () => consume("u")));
    expect(asked).toEqual([10]);
    await Promise.all(Array.from({ length: 15 }, () => consume("u")));
    expect(asked).toEqual([10, 10, 10]);
  });

  test("across processes a key is refused early by at most (P - 1) x (lease - 1) calls, never late", async () => {
    const { store } = sharedCount(50);
    const processes = [leased(store, 10), leased(store, 10), leased(store, 10)];
    let passed = 0;
    let refusedAt: number | undefined;
    for (let i = 0; i < 80 && refusedAt === undefined; i++) {
      try {
        await processes[i % 3]!("u"); // a load balancer spreading the key's calls
        passed++;
      } catch {
        refusedAt = i;
      }
    }
    expect(refusedAt).toBeDefined();
    expect(passed).toBeLessThanOrEqual(50);
    expect(passed).toBeGreaterThanOrEqual(50 - 2 * 9);
  });

  test("a lease ends with its window: the next window's points are drawn afresh", async () => {
    const { store } = sharedCount(3, 1);
    const consume = leased(store, 10);
    expect(await drawUntilRefused(consume, "u", 5)).toEqual({ passed: 3, refused: true });
    await Bun.sleep(1100);
    expect(await drawUntilRefused(consume, "u", 5)).toEqual({ passed: 3, refused: true });
  });

  test("a store that fails fails the call, and the next call asks again", async () => {
    const { store } = sharedCount(10);
    let failing = true;
    const consume = store.consume.bind(store);
    store.consume = (key: string | number, n?: number) => (failing ? Promise.reject(new Error("store down")) : consume(key, n));
    const draw = leased(store, 10);
    await expect(draw("u")).rejects.toThrow("store down");
    failing = false;
    await draw("u");
  });
});
