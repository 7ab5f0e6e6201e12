import { describe, expect, test } from "bun:test";
import { KafkaJSConnectionError, KafkaJSProtocolError } from "kafkajs";
import { createLease, FencedError } from "../../src/stream/lease";
import { retrying } from "../../src/stream/transport";
import { generationOf, generations, rewriteTime, writeTimeBase, writeTimeOf } from "../../src/model/write-time";

/** A lease on a clock the test moves. */
function leaseAt(start = 1_000_000) {
  let now = start;
  const lease = createLease({ sessionTimeoutMs: 10_000, heartbeatIntervalMs: 3000, now: () => now });
  return { lease, advance: (ms: number) => (now += ms) };
}

/** A heartbeat answer as kafkajs throws it (protocol/error.js). */
const refused = (type: string) => new KafkaJSProtocolError(Object.assign(new Error(type), { type, retriable: false }));

describe("the lease a member holds on its batch", () => {
  test("holds while heartbeats are answered, and runs out once none has been for the session timeout less one interval", async () => {
    const { lease, advance } = leaseAt();
    advance(6000);
    expect(() => lease.check()).not.toThrow();
    await lease.heartbeat(async () => {});
    advance(6999);
    expect(() => lease.check()).not.toThrow();
    advance(2); // 7,001 ms since the last answer: the member may have been expelled by now
    expect(() => lease.check()).toThrow(FencedError);
  });

  test("a paused member finds its lease gone when it wakes, before it writes anything", () => {
    const { lease, advance } = leaseAt();
    advance(30_000); // SIGSTOP, a GC pause, a stopped VM
    expect(() => lease.check()).toThrow(/no heartbeat answered for 30000 ms/);
  });

  test("ends at once when the group says the member is gone; a broker away is not such an answer", async () => {
    for (const type of ["REBALANCE_IN_PROGRESS", "UNKNOWN_MEMBER_ID", "ILLEGAL_GENERATION"]) {
      const { lease } = leaseAt();
      await lease.heartbeat(() => Promise.reject(refused(type)));
      expect(() => lease.check()).toThrow(new RegExp(type));
      await lease.heartbeat(async () => {}); // a later answer does not bring it back
      expect(() => lease.check()).toThrow(FencedError);
    }
    const { lease } = leaseAt();
    await lease.heartbeat(() => Promise.reject(new KafkaJSConnectionError("Connection error")));
    expect(() => lease.check()).not.toThrow();
  });

  test("a fenced write is not retried: the retry loop gives it back at once", async () => {
    let calls = 0;
    const fenced = retrying(
      async () => {
        calls++;
        throw new FencedError("gone");
      },
      { label: "test", heartbeat: async () => {}, isRunning: () => true },
    );
    await expect(fenced).rejects.toBeInstanceOf(FencedError);
    expect(calls).toBe(1);
  });
});

describe("write times", () => {
  test("follow the offset, start above any microsecond clock, and refuse what they cannot order", () => {
    expect(writeTimeOf("0")).toBe(writeTimeBase);
    expect(writeTimeOf("41") - writeTimeOf("40")).toBe(generations);
    expect(writeTimeBase).toBeGreaterThan(Date.now() * 1000 * 2); // decades of wall clock to spare
    expect(writeTimeOf(String(2 ** 42 - 1)) + generations - 1).toBe(2 ** 53 - 1); // still an exact number
    expect(() => writeTimeOf(String(2 ** 42))).toThrow(RangeError);
    expect(() => writeTimeOf("-1")).toThrow(RangeError);
  });

  test("a rewrite is later than what it rewrites and earlier than the next event's write", () => {
    const t = writeTimeOf("40");
    expect(generationOf(t)).toBe(0);
    expect(rewriteTime(t, 1)).toBe(t + 1);
    expect(generationOf(rewriteTime(t + 5, 7))).toBe(7);
    expect(rewriteTime(t, 5000)).toBe(writeTimeOf("41") - 1); // capped: never reaches the next offset
    expect(rewriteTime(rewriteTime(t, 3), 0)).toBe(t);
  });
});
