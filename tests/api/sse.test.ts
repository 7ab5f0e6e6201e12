import { describe, expect, test } from "bun:test";
import { TRPCError, tracked } from "@trpc/server";
import { sseStreamProducer } from "@trpc/server/unstable-core-do-not-import";
import { pump, quietStreams, sseEncoder } from "../../src/api/sse";

// src/api/sse.ts frames subscriptions itself: its bytes must be tRPC's own producer's, for every
// kind of message, or tRPC's clients would read them differently.

type Values = () => AsyncGenerator<unknown>;
const formatError = (error: TRPCError) => ({ message: error.message, code: error.code });
const serialize = (v: unknown) => v;

/** What tRPC's own producer writes for the stream (pings off: they depend on time). */
async function trpcBytes(values: Values, lastEventId: string | null, client: object = {}) {
  return new Response(sseStreamProducer({ data: values(), serialize, formatError: ({ error }) => formatError(error as TRPCError), lastEventId, client, ping: { enabled: false, intervalMs: 1 } })).text();
}

/** What ours writes. */
async function ourBytes(values: Values, lastEventId: string | null, client: object = {}) {
  let text = "";
  await pump({ source: { iterable: values() }, encoder: sseEncoder(serialize, lastEventId), client, formatError, write: (t) => void (text += t), signal: new AbortController().signal });
  return text;
}

describe("subscriptions over SSE", () => {
  test("tracked events, an untracked one after them, and the end are written as tRPC writes them", async () => {
    const values: Values = async function* () {
      yield tracked("c1", { type: "add", item: { id: "a", body: "line\nbreak, \"quoted\", ünïcode" } });
      yield tracked("c2", { type: "remove", id: "a" });
      yield { unseen: 3 };
      yield tracked("c3", { n: 1 });
    };
    const ours = await ourBytes(values, null, { reconnectAfterInactivityMs: 5 });
    expect(ours).toBe(await trpcBytes(values, null, { reconnectAfterInactivityMs: 5 }));
    expect(ours).toContain("event: restore-id");
    expect(ours.endsWith("event: return\ndata: \n\n\n")).toBe(true);
  });

  test("untracked events carry no id, and after a reconnect's last event id they restore it", async () => {
    const values: Values = async function* () {
      yield { unseen: 1 };
      yield { unseen: 2 };
    };
    for (const last of [null, "resume-from", "bad\nid"]) expect(await ourBytes(values, last)).toBe(await trpcBytes(values, last));
  });

  test("a failure during the stream is a serialized-error event, and the stream ends without `return`", async () => {
    const values: Values = async function* () {
      yield tracked("c1", { n: 1 });
      throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "fell behind; reconnect" });
    };
    const ours = await ourBytes(values, null);
    expect(ours).toBe(await trpcBytes(values, null));
    expect(ours).toContain('event: serialized-error\ndata: {"message":"fell behind; reconnect","code":"SERVICE_UNAVAILABLE"}');
    expect(ours).not.toContain("event: return");
  });

  test("a refused call is `connected` then its error, as tRPC writes a procedure that throws", async () => {
    const refused = new TRPCError({ code: "TOO_MANY_REQUESTS", message: "too many streams" });
    let ours = "";
    await pump({ source: { refused }, encoder: sseEncoder(serialize, null), client: {}, formatError, write: (t) => void (ours += t), signal: new AbortController().signal });
    const throwing: Values = async function* () {
      throw refused;
    };
    expect(ours).toBe(await trpcBytes(throwing, null));
  });

  test("nothing is written once the client is gone, and the iterable is closed", async () => {
    const abort = new AbortController();
    let closed = false;
    let text = "";
    const values = (async function* () {
      try {
        yield tracked("c1", { n: 1 });
        abort.abort();
        yield tracked("c2", { n: 2 });
        yield tracked("c3", { n: 3 });
      } finally {
        closed = true;
      }
    })();
    await pump({ source: { iterable: values }, encoder: sseEncoder(serialize, null), client: {}, formatError, write: (t) => void (text += t), signal: abort.signal });
    expect(text).toContain("id: c1");
    expect(text).not.toContain("id: c2");
    expect(text).not.toContain("event: return");
    expect(closed).toBe(true);
  });

  test("a quiet stream is pinged, one that is writing is not, and none once it is gone", async () => {
    const pings = quietStreams(90); // ticks every 30 ms; pings after 60 ms of silence
    const quiet = { wroteAt: Date.now(), writing: false, pinged: 0, ping: () => void (quiet.pinged++, (quiet.wroteAt = Date.now())) };
    const busy = { wroteAt: 0, writing: true, pinged: 0, ping: () => void busy.pinged++ };
    pings.add(quiet);
    pings.add(busy);
    await Bun.sleep(400);
    expect(quiet.pinged).toBeGreaterThanOrEqual(2);
    expect(quiet.pinged).toBeLessThanOrEqual(7); // about every 60-90 ms, not every tick
    expect(busy.pinged).toBe(0);
    pings.delete(quiet);
    pings.delete(busy);
    const after = quiet.pinged;
    await Bun.sleep(200);
    expect(quiet.pinged).toBe(after);
  });
});
