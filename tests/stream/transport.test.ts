import { describe, expect, test } from "bun:test";
import cassandra from "cassandra-driver";
import { AppError } from "../../src/errors";
import { DecodeError } from "../../src/stream/envelope";
import { inParallel } from "../../src/parallel";
import { classify, retrying } from "../../src/stream/transport";

describe("error classification", () => {
  test("decode errors are dead-lettered; store outages are retried; rejected statements stop the loop", () => {
    expect(classify(new DecodeError("bad"))).toBeInstanceOf(DecodeError);
    expect(classify(new cassandra.errors.NoHostAvailableError({}))).toMatchObject({ code: "UNAVAILABLE", canRetry: true });
    expect(classify(new cassandra.errors.OperationTimedOutError("slow"))).toMatchObject({ canRetry: true });
    const writeTimeout = new cassandra.errors.ResponseError(0x1100, "write timeout");
    expect(classify(writeTimeout)).toMatchObject({ canRetry: true });
    const syntax = new cassandra.errors.ResponseError(0x2000, "syntax error");
    expect(classify(syntax)).toMatchObject({ code: "STORE_REJECTED", canRetry: false });
    expect(classify(new Error("connect ECONNREFUSED 127.0.0.1:56379"))).toMatchObject({ canRetry: true });
    expect(classify(new Error("ERR wrong number of arguments"))).toMatchObject({ canRetry: false });
    expect(classify(Object.assign(new Error("leader moved"), { name: "KafkaJSProtocolError", retriable: true }))).toMatchObject({ canRetry: true });
  });
});

describe("retrying", () => {
  const noop = { heartbeat: async () => {}, isRunning: () => true };

  test("retries a retryable failure until it succeeds", async () => {
    let calls = 0;
    const result = await retrying(
      async () => {
        calls++;
        if (calls < 3) throw new AppError("UNAVAILABLE", "down");
        return "done";
      },
      { label: "test", ...noop },
    );
    expect({ result, calls }).toEqual({ result: "done", calls: 3 });
  });

  test("does not retry what cannot succeed", async () => {
    let calls = 0;
    const attempt = retrying(
      async () => {
        calls++;
        throw new Error("ERR syntax");
      },
      { label: "test", ...noop },
    );
    await expect(attempt).rejects.toMatchObject({ code: "STORE_REJECTED" });
    expect(calls).toBe(1);
  });
});

describe("inParallel", () => {
  test("runs every job with at most the limit in flight", async () => {
    let inFlight = 0;
    let peak = 0;
    const done: number[] = [];
    await inParallel([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      peak = Math.max(peak, ++inFlight);
      await Bun.sleep(5);
      done.push(n);
      inFlight--;
    });
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(peak).toBe(3);
  });
});
