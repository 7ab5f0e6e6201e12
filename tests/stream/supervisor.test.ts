import { describe, expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import type { Consumer } from "kafkajs";
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded } from "kafkajs";
import { AppError } from "../../src/errors";
import { createMetrics } from "../../src/metrics";
import { createStageStatus } from "../../src/stream/status";
import { backoffMs, type Stage, supervise } from "../../src/stream/supervisor";
import { eventually } from "../support/stack";

// The supervisor's own logic, with stand-in stages (no Kafka here: the chaos suite and the
// integration tests run it against the real broker).

/** A stage whose start fails `failures` times, then joins; `crash(err)` emits kafkajs's CRASH. */
function fakeStages(failures: number) {
  const made: { stage: Stage; emitter: EventEmitter; stopped: boolean }[] = [];
  const create = (): Stage => {
    const emitter = new EventEmitter();
    const consumer = { events: { CRASH: "consumer.crash", GROUP_JOIN: "consumer.group_join" }, on: (e: string, f: (x: unknown) => void) => emitter.on(e, f) };
    const entry = {
      emitter,
      stopped: false,
      stage: {
        consumer: consumer as unknown as Consumer,
        async start() {
          if (made.length <= failures) throw new KafkaJSConnectionError("Connection error: connect ECONNREFUSED 127.0.0.1:29092");
          emitter.emit("consumer.group_join", {});
        },
        async stop() {
          entry.stopped = true;
        },
      },
    };
    made.push(entry);
    return entry.stage;
  };
  return { made, create, crash: (err: unknown) => made.at(-1)!.emitter.emit("consumer.crash", { payload: { error: err } }) };
}

describe("backoffMs", () => {
  test("doubles from half a second up to the cap, jittered within the upper half", () => {
    expect([0, 1, 2, 3, 10].map((n) => backoffMs(n, 10_000, () => 1))).toEqual([500, 1000, 2000, 4000, 10_000]);
    expect(backoffMs(10)).toBeLessThanOrEqual(5000);
    expect(backoffMs(3, 10_000, () => 0)).toBe(2000);
    expect(backoffMs(1000, 10_000, () => 0.5)).toBe(7500);
  });
});

describe("supervise", () => {
  test("a start that fails while Kafka is away is retried until the member joins, and the wait is reported", async () => {
    const status = createStageStatus("router", createMetrics());
    const stages = fakeStages(2);
    const fatal: unknown[] = [];
    const run = supervise({ create: stages.create, status, onFatal: (e) => fatal.push(e), maxBackoffMs: 20 });
    await eventually("the third stage to join", () => (status.get().state === "running" ? true : undefined), 2000);
    expect(stages.made.length).toBe(3);
    expect(stages.made.slice(0, 2).every((m) => m.stopped)).toBe(true);
    expect(status.get().restarts).toBe(2);
    expect(fatal).toEqual([]);
    await run.stop();
  });

  test("a consumer that crashes on a lost broker is rebuilt, however kafkajs classified the error", async () => {
    const status = createStageStatus("feed worker", createMetrics());
    const stages = fakeStages(0);
    const run = supervise({ create: stages.create, status, onFatal: () => {}, maxBackoffMs: 20 });
    await eventually("the stage to join", () => (status.get().state === "running" ? true : undefined), 1000);
    // kafkajs ends a broker outage with a non-retriable error and would not restart on its own.
    stages.crash(new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError("Connection error"), { retryCount: 5, retryTime: 300 }));
    expect(status.get()).toMatchObject({ state: "waiting", waitingFor: "kafka" });
    await eventually("a new stage to join", () => (stages.made.length === 2 && status.get().state === "running" ? true : undefined), 1000);
    expect(stages.made[0]!.stopped).toBe(true);
    await run.stop();
    expect(stages.made[1]!.stopped).toBe(true);
    expect(status.get().state).toBe("stopped");
  });

  test("a write a store rejected is fatal: nothing is rebuilt and onFatal is called", async () => {
    const status = createStageStatus("feed worker", createMetrics());
    const stages = fakeStages(0);
    const fatal: unknown[] = [];
    supervise({ create: stages.create, status, onFatal: (e) => fatal.push(e), maxBackoffMs: 20 });
    await eventually("the stage to join", () => (status.get().state === "running" ? true : undefined), 1000);
    stages.crash(new AppError("STORE_REJECTED", "Cassandra rejected a statement"));
    await eventually("onFatal", () => (fatal.length === 1 ? true : undefined), 1000);
    await Bun.sleep(50);
    expect(stages.made.length).toBe(1);
    expect(status.get().state).toBe("stopped");
  });
});

describe("stage status", () => {
  test("a wait ends at the first commit after a few quiet seconds, not while other partitions still retry", () => {
    const status = createStageStatus("feed worker", createMetrics());
    status.running();
    status.waiting("cassandra", "NoHostAvailableError");
    status.progress(); // another partition committed, but a retry was reported just now
    expect(status.get()).toMatchObject({ state: "waiting", waitingFor: "cassandra" });
  });

  test("applying events counts as activity, so a long batch that has not committed yet is not idle", async () => {
    const status = createStageStatus("worker", createMetrics());
    status.running();
    await Bun.sleep(30);
    expect(status.idleMs()).toBeGreaterThanOrEqual(25);
    status.active();
    expect(status.idleMs()).toBeLessThan(25);
  });

  test("waiting and up are exported as metrics", async () => {
    const metrics = createMetrics();
    const status = createStageStatus("router", metrics);
    status.waiting("kafka", "broker down");
    const text = await metrics.render();
    expect(text).toContain('feedline_stream_up{stage="router"} 0');
    expect(text).toMatch(/feedline_stream_waiting_seconds\{stage="router",on="kafka"\} \d/);
  });
});
