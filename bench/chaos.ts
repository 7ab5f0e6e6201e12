/**
 * The chaos suite: `npm run chaos -- [--targets worker,connect,registry,kafka,cassandra,redis,postgres,worker-pause,cassandra-pause]
 * [--users 80] [--rate 20] [--hold 5] [--followers 3000] [--posts 300] [--seed 1]`.
 * Kills each target with SIGKILL (or, for the -pause targets, freezes it with SIGSTOP) under a
 * concurrent API workload, in the middle of a large fan-out and a follow backfill, brings it back
 * with the project's own command (or SIGCONT), measures the recovery, and at the end compares every feed with the PostgreSQL oracle. Appends the result to
 * docs/benchmarks.md; exits 1 if any feed differs. Needs the stack up and no service running.
 */
import { parseArgs } from "node:util";
import { type Target, targets } from "./chaos/faults";
import { runChaos } from "./chaos/run";
import { openBench } from "./pipeline";
import { markdownTable, record } from "./support";

const { values } = parseArgs({
  options: {
    targets: { type: "string", default: targets.join(",") },
    users: { type: "string", default: "80" },
    rate: { type: "string", default: "20" },
    hold: { type: "string", default: "5" },
    followers: { type: "string", default: "3000" },
    posts: { type: "string", default: "300" },
    seed: { type: "string", default: "1" },
  },
});
const chosen = values.targets.split(",").map((t) => t.trim()) as Target[];
const unknown = chosen.filter((t) => !targets.includes(t));
if (unknown.length) throw new Error(`unknown target ${unknown.join(", ")}; choose from ${targets.join(", ")}`);

const { services, admin } = await openBench();
const started = Date.now();
try {
  const report = await runChaos(services, admin, {
    targets: chosen,
    users: Number(values.users),
    rate: Number(values.rate),
    holdMs: Number(values.hold) * 1000,
    celebrityFollowers: Number(values.followers),
    celebrityPosts: Number(values.posts),
    seed: Number(values.seed),
    log: (line) => console.log(`[chaos] ${line}`),
  });
  const table = markdownTable(
    report.recoveries.map((r) => ({
      fault: `${r.target} (${r.signal})`,
      "down (kill → answering) s": r.downSeconds.toFixed(1),
      "answering → caught up and fresh s": r.recoverySeconds.toFixed(1),
      "writes answered retry": r.rejectedWrites,
      "home pages failed while down": `${r.failedReads} of ${r.reads}`,
    })),
  );
  const c = report.check;
  const verdict =
    `Feeds after writes stopped (home and profile of ${c.users} users, paged through the API): ` +
    `${c.entries} entries, ${c.missing} missing, ${c.extra} extra, ${c.doubled} doubled, ${c.misordered} out of order; ${c.readRetries} of the check's reads answered "retry" and were sent again. ` +
    `Notifications: ${c.notificationGroups} groups, ${c.notificationsWrong} not as the oracle has them. ` +
    `Workload: ${report.stats.done} operations through the API (${values.users} users, ${values.rate}/s, idempotency keys), ` +
    `${report.stats.refused} typed refusals, ${report.stats.rejectedAt.length} retried requests; run took ${Math.round((Date.now() - started) / 1000)} s.`;
  console.log(`\n${table}\n\n${verdict}`);
  for (const f of c.failures) console.log(f);
  const args = process.argv.slice(2).join(" ");
  record("Chaos: recovery from SIGKILL and SIGSTOP of each component", `npm run chaos${args ? ` -- ${args}` : ""}`, table, verdict);
  if (c.missing + c.extra + c.doubled + c.misordered + c.notificationsWrong > 0) process.exitCode = 1;
} finally {
  await admin.disconnect();
  await services.close();
}
process.exit(process.exitCode ?? 0);
