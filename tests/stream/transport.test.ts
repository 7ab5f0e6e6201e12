import { describe, expect, test } from "bun:test";
import cassandra from "cassandra-driver";
import { ReplyError } from "ioredis";
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from "kafkajs";
import { AppError } from "../../src/errors";
import { DecodeError } from "../../src/stream/decode-error";
import { createKeyedQueue, inParallel } from "../../src/parallel";
import { classify, keepAlive, retrying } from "../../src/stream/transport";

describe("error classification", () => {
  test("decode errors are dead-lettered; store outages are retried; rejected statements stop the loop", () => {
    expect(classify(new DecodeError("bad"))).toBeInstanceOf(DecodeError);
    expect(classify(new cassandra.errors.NoHostAvailableError({}))).toMatchObject({ code: "UNAVAILABLE", canRetry: true });
    expect(classify(new cassandra.errors.OperationTimedOutError("slow"))).toMatchObject({ canRetry: true });
    const writeTimeout = new cassandra.errors.ResponseError(0x1100, "write timeout");
    expect(classify(writeTimeout)).toMatchObject({ canRetry: true });
    // What the driver rejects in-flight requests with when a node's socket closes (connection.js).
    const DriverError = cassandra.errors.DriverError as unknown as new (message: string) => Error;
    const socketClosed = Object.assign(new DriverError("Socket was closed"), { isSocketError: true });
    expect(classify(socketClosed)).toMatchObject({ code: "UNAVAILABLE", component: "cassandra" });
    const syntax = new cassandra.errors.ResponseError(0x2000, "syntax error");
    expect(classify(syntax)).toMatchObject({ code: "STORE_REJECTED", canRetry: false });
    expect(classify(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:26379"), { code: "ECONNREFUSED" }))).toMatchObject({ canRetry: true });
    expect(classify(new Error("Connection is closed."))).toMatchObject({ code: "UNAVAILABLE", component: "redis" });
    expect(classify(new ReplyError("ERR wrong number of arguments"))).toMatchObject({ canRetry: false });
    expect(classify(new ReplyError("LOADING Redis is loading the dataset in memory"))).toMatchObject({ canRetry: true, component: "redis" });
    expect(classify(new Error("ERR wrong number of arguments"))).toMatchObject({ canRetry: false });
  });

  test("Kafka errors are told apart by class: lost connections and exhausted retries are outages, a refused request is not", () => {
    expect(classify(protocolError("leader moved", "NOT_LEADER_FOR_PARTITION", true))).toMatchObject({ canRetry: true, component: "kafka" });
    expect(classify(new KafkaJSConnectionError("Connection error: connect ECONNREFUSED 127.0.0.1:29092"))).toMatchObject({ canRetry: true, component: "kafka" });
    const exhausted = new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError("Connection error"), { retryCount: 5, retryTime: 1000 });
    expect(classify(exhausted)).toMatchObject({ canRetry: true, component: "kafka" });
    const refused = protocolError("Not authorized", "TOPIC_AUTHORIZATION_FAILED", false);
    expect(classify(refused)).toMatchObject({ code: "STORE_REJECTED", canRetry: false });
  });

  test("PostgreSQL outages are retryable by SQLSTATE or client code", () => {
    expect(classify(Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }))).toMatchObject({ component: "postgres", canRetry: true });
    expect(classify(Object.assign(new Error("write CONNECTION_ENDED"), { code: "CONNECTION_ENDED" }))).toMatchObject({ component: "postgres" });
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

describe("keepAlive", () => {
  test("heart-beats while the batch makes progress and stops when it hangs", async () => {
    let beats = 0;
    const alive = keepAlive(async () => void beats++, 20);
    for (let i = 0; i < 5; i++) {
      alive.progress();
      await Bun.sleep(25);
    }
    const whileProgressing = beats;
    await Bun.sleep(120); // no progress: no heartbeat, so the group can move a hung partition
    alive.stop();
    expect(whileProgressing).toBeGreaterThanOrEqual(3);
    expect(beats).toBe(whileProgressing);
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

describe("a keyed queue", () => {
  test("runs jobs in order, at most `concurrency` at once, each key once while it waits or runs, and refuses past its backlog", async () => {
    const sizes: number[] = [];
    const queue = createKeyedQueue({ concurrency: 2, backlog: 3, onSize: (n) => sizes.push(n) });
    const started: string[] = [];
    let inFlight = 0;
    let peak = 0;
    const job = (key: string) => async () => {
      started.push(key);
      peak = Math.max(peak, ++inFlight);
      await Bun.sleep(10);
      inFlight--;
      if (key === "b") throw new Error("a job's failure is its own");
    };
    expect(["a", "b", "c", "a", "d", "e"].map((k) => queue.add(k, job(k)))).toEqual([true, true, true, true, true, true]);
    expect(queue.add("f", job("f"))).toBe(false); // c, d, e wait: the backlog is full
    expect(queue.has("a") && queue.has("e") && !queue.has("f")).toBe(true);
    while (queue.size() > 0) await Bun.sleep(5);
    expect(started).toEqual(["a", "b", "c", "d", "e"]);
    expect(peak).toBe(2);
    expect(sizes.at(-1)).toBe(0);
  });
});

/** A broker's error answer, as kafkajs builds it from the protocol's error table. */
function protocolError(message: string, type: string, retriable: boolean) {
  return new KafkaJSProtocolError(Object.assign(new Error(message), { type, retriable }));
}
