import { describe, expect, test } from "bun:test";
import type { ConnectorStatus } from "../../src/capture/connect";
import type { SlotState } from "../../src/capture/slot";
import { decide, type Memory, type Observation } from "../../src/capture/watchdog";

const running: ConnectorStatus = { connector: { state: "RUNNING" }, tasks: [{ id: 0, state: "RUNNING" }] };
const t0 = Date.parse("2026-11-29T10:00:00Z");

function slot(over: Partial<SlotState> = {}): SlotState {
  return { active: true, pid: 4242, backendStart: new Date(t0 - 3_600_000), lagBytes: 0, unsentBytes: 0, sentLsn: "0/1000", dbNow: new Date(t0), ...over };
}

/** Feeds observations in order, `stepMs` apart (database clock moving with them), and returns every decision. */
function run(observations: Omit<Observation, "at">[], stepMs = 5000, memory: Memory = {}) {
  const out: ReturnType<typeof decide>[] = [];
  observations.forEach((o, i) => {
    const at = t0 + i * stepMs;
    const obs = { ...o, at, slot: o.slot && { ...o.slot, dbNow: new Date(at) } };
    const d = decide(obs, memory);
    memory = d.memory;
    out.push(d);
  });
  return out;
}

describe("capture watchdog", () => {
  test("a healthy connector with a reading slot needs nothing and reports nothing", () => {
    const [d] = run([{ connector: running, slot: slot(), kafkaUp: true }]);
    expect(d).toMatchObject({ actions: [], problem: undefined });
  });

  test("a FAILED task is restarted, once per cool-down", () => {
    const failed: ConnectorStatus = { connector: { state: "RUNNING" }, tasks: [{ id: 0, state: "FAILED", trace: "org.postgresql.util.PSQLException: ..." }] };
    const ds = run(Array.from({ length: 8 }, () => ({ connector: failed, slot: slot({ active: false }), kafkaUp: true })));
    expect(ds.map((d) => d.actions.map((a) => a.kind).join())).toEqual(["restart-failed", "", "", "", "", "", "restart-failed", ""]);
    expect(ds[0]!.problem).toContain("RUNNING/FAILED");
  });

  test("a holder that stopped reading while Kafka answers is restarted, then terminated once it provably outlived the restart", () => {
    // The orphan of a task stopped while Kafka was down: WAL waits to be sent and nothing is read.
    const stuck = () => ({ connector: running, slot: slot({ unsentBytes: 1_300_000, sentLsn: "0/2000" }), kafkaUp: true });
    const ds = run(Array.from({ length: 20 }, stuck));
    const kinds = ds.map((d) => d.actions.map((a) => a.kind).join());
    const restart = kinds.indexOf("restart-task");
    const terminate = kinds.indexOf("terminate");
    expect(restart).toBe(13); // first stalled at the second look; 60 s later
    expect(terminate).toBeGreaterThan(restart);
    expect(ds[terminate]!.actions[0]).toEqual({ kind: "terminate", pid: 4242 });
  });

  test("a connection opened after the last restart is restarted first, never terminated straight away", () => {
    const restartedAt = t0 - 60_000;
    const fresh = slot({ backendStart: new Date(restartedAt + 1000), unsentBytes: 10_000, sentLsn: "0/3000" });
    const ds = run(Array.from({ length: 30 }, () => ({ connector: running, slot: fresh, kafkaUp: true })), 5000, { restartedAt, actedAt: t0 - 60_000 });
    const kinds = ds.flatMap((d) => d.actions.map((a) => a.kind));
    expect(kinds[0]).toBe("restart-task");
    expect(kinds.indexOf("terminate")).toBeGreaterThan(0);
  });

  test("a stalled holder is left alone while Kafka is down: a live task stops reading when it cannot produce", () => {
    const ds = run(Array.from({ length: 30 }, () => ({ connector: running, slot: slot({ unsentBytes: 5000, sentLsn: "0/4000" }), kafkaUp: false })));
    expect(ds.flatMap((d) => d.actions)).toEqual([]);
    expect(ds.at(-1)!.problem).toContain("has not read for");
  });

  test("an inactive slot is reported after 30 s and never acted on (a snapshot holds no slot connection)", () => {
    const ds = run(Array.from({ length: 30 }, () => ({ connector: running, slot: slot({ active: false, pid: null, unsentBytes: null, sentLsn: null }), kafkaUp: true })));
    expect(ds.flatMap((d) => d.actions)).toEqual([]);
    expect(ds[1]!.problem).toBeUndefined();
    expect(ds.at(-1)!.problem).toContain("has no reader");
  });
});
