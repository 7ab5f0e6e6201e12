import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Services } from "../../src/services";
import { openServices } from "../support/stack";

// A live stream lives for hours and hears thousands of events: what it keeps must not grow with
// them. Waiting for each event by racing it against the stream's abort signal kept one promise
// reaction per wait (about 60 bytes) until the stream closed.

let services: Services;
beforeAll(async () => {
  services = await openServices();
});
afterAll(async () => {
  await services.close();
});

const heapMiB = () => {
  Bun.gc(true);
  return process.memoryUsage().heapUsed / 1048576;
};

describe("a live stream", () => {
  test("keeps no memory per event it waited for: 60,000 events, one at a time, leave the heap where it was", async () => {
    const user = `live-${crypto.randomUUID().slice(0, 8)}`;
    const abort = new AbortController();
    const events = await services.live.subscribe(user, abort.signal);
    // One event at a time, as a stream hears them: the stream waits for each.
    const deliver = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const next = events.next();
        await services.live.publishTo([user], [{ type: "remove", id: `x${i}` }]);
        await next;
      }
    };
    await deliver(2_000); // warm: buffers and compiled code reach their size
    const before = heapMiB();
    await deliver(60_000);
    const grown = heapMiB() - before;
    abort.abort();
    await events.return(undefined);
    // One promise reaction kept per wait would be about 3.5 MiB here.
    expect(grown).toBeLessThan(1.5);
  }, 60_000);
});
