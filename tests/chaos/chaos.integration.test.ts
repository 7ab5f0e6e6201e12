import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Admin } from "kafkajs";
import { targets } from "../../bench/chaos/faults";
import { runChaos } from "../../bench/chaos/run";
import { assertStreamIdle } from "../../bench/pipeline";
import { stopSharedWorker } from "../support/pipeline";
import { eventually, useServices } from "../support/stack";

// The bounded part of `npm run chaos` that CI runs: every component SIGKILLed once under a
// concurrent API workload (during a celebrity's fan-out and a follow backfill), brought back with
// `npm run stack -- up` (or, for the worker, started again), with no other step; then the worker
// frozen (SIGSTOP) past its session timeout while a second one takes over, and Cassandra frozen
// for 30 s; meanwhile a star account is pulled at read time (hybrid fan-out) and pushed again.
// Then every home and profile feed, paged through the API, must equal the PostgreSQL oracle.

const services = useServices();
let admin: Admin;
beforeAll(async () => {
  await stopSharedWorker(); // the suite runs its own worker, to kill it
  admin = services().kafka.admin();
  await admin.connect();
  await eventually("the stream groups to have no members", () => assertStreamIdle(admin, services()).then(() => true, () => undefined), 60_000);
});
afterAll(async () => {
  await admin?.disconnect();
});

describe("chaos", () => {
  test(
    "with each component killed or frozen and brought back under load, writes are never lost and every feed equals the oracle",
    async () => {
      const report = await runChaos(services(), admin, {
        targets: [...targets],
        users: 12,
        rate: 10,
        holdMs: 3000,
        celebrityFollowers: 200,
        celebrityPosts: 30,
        seed: 5,
        log: (line) => console.log(`[chaos] ${line}`),
      });
      expect(report.check.failures).toEqual([]);
      expect(report.check).toMatchObject({ missing: 0, extra: 0, doubled: 0, misordered: 0, notificationsWrong: 0 });
      expect(report.check.entries).toBeGreaterThan(0);
      expect(report.recoveries.map((r) => r.target)).toEqual([...targets]);
      // The star crossed the hybrid threshold under the faults, and back.
      expect(report.starModes).toContain(true);
      expect(report.starModes.at(-1)).toBe(false);
      for (const r of report.recoveries) {
        // Only PostgreSQL is on the write path: every other outage is invisible to writers.
        if (r.target !== "postgres") expect({ target: r.target, rejected: r.rejectedWrites }).toEqual({ target: r.target, rejected: 0 });
        // A reader with a warm cache is served through every outage.
        expect({ target: r.target, failedReads: r.failedReads }).toEqual({ target: r.target, failedReads: 0 });
        expect(r.reads).toBeGreaterThan(0);
      }
    },
    1_800_000,
  );
});
