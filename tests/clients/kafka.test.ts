import { afterEach, expect, test } from "bun:test";
// @ts-expect-error kafkajs ships no types for its internals
import RequestQueue from "kafkajs/src/network/requestQueue/index.js";
import { requestTimeoutCheckMs } from "../../src/clients/kafka";

/** The two timers src/clients/kafka.ts mends in kafkajs's request queue, on a queue with no socket behind it. */
const noop = () => {};
const logger = { debug: noop, info: noop, warn: noop, error: noop };
const queues: { destroy(): void }[] = [];
const queue = (requestTimeout = 30_000) => {
  const q = new RequestQueue({ maxInFlightRequests: 1, requestTimeout, enforceRequestTimeout: true, clientId: "test", broker: "test:9092", logger });
  queues.push(q);
  return q;
};
afterEach(() => queues.splice(0).forEach((q) => q.destroy()));

test("a queue with nothing pending schedules no check (kafkajs#1704: a 1 ms timer loop per connection)", () => {
  const q = queue();
  q.checkPendingRequests();
  expect(q.throttleCheckTimeoutId).toBeNull();
});

test("a queue with a request waiting still schedules its check", () => {
  const q = queue();
  q.pending.push({ correlationId: 1 });
  q.throttledUntil = Date.now() + 50;
  q.scheduleCheckPendingRequests();
  expect(q.throttleCheckTimeoutId).not.toBeNull();
  q.pending.length = 0;
});

test("in-flight requests are checked for their timeout once a second, and one past it times out", async () => {
  expect(requestTimeoutCheckMs).toBe(1000);
  const q = queue(10);
  let timedOut = 0;
  q.inflight.set(7, { sentAt: Date.now() - 50, requestTimeout: 10, timeoutRequest: () => timedOut++ });
  q.scheduleRequestTimeoutCheck();
  await Bun.sleep(requestTimeoutCheckMs / 2);
  expect(timedOut).toBe(0); // kafkajs's own check (every 100 ms here) would have fired by now
  await Bun.sleep(requestTimeoutCheckMs);
  expect(timedOut).toBeGreaterThanOrEqual(1);
});
