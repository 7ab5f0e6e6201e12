/**
 * Write latency from a client: sequential mutations (p50/p99), then mutations/s with concurrency.
 * One command: `npm run bench:writes -- [--sequential N] [--concurrent N] [--concurrency a,b,c]`.
 * Starts the API as its own process (so client and server do not share an event loop) against
 * the running stack (`npm run stack -- up` first), and appends the results to docs/benchmarks.md.
 */
import { parseArgs } from "node:util";
import { apiClient, cpuPerUnit, cpuSeconds, stackPids, startService } from "./pipeline";
import { markdownTable, record, statusLine, summarize } from "./support";

const { values } = parseArgs({
  options: {
    sequential: { type: "string", default: "3000" },
    concurrent: { type: "string", default: "6000" },
    concurrency: { type: "string", default: "1,8,32,64" },
  },
});
const sequential = Number(values.sequential);
const concurrent = Number(values.concurrent);
const levels = values.concurrency.split(",").map(Number);

// API and workers in one process, as `serve` runs by default; measuring starts once it answers,
// whether or not its stream stages have joined their groups yet.
const server = await startService({ role: "all", ready: "answering" });

const client = (token?: string) => apiClient(server.url, token);
const suffix = Math.random().toString(36).slice(2, 8);
const { token } = await client().users.create.mutate({ handle: `bench_${suffix}` });
const me = client(token);

/** Runs `total` posts.create with `concurrency` in flight; returns per-call latencies and wall time. */
async function run(total: number, concurrency: number, label: string) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const progress = statusLine();
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const t0 = performance.now();
      await me.posts.create.mutate({ body: `bench post ${i}` });
      latencies.push(performance.now() - t0);
      if (latencies.length % 1000 === 0) progress.update(`${label}: ${latencies.length}/${total}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  progress.update(`${label}: ${total}/${total} in ${seconds.toFixed(1)}s`);
  progress.done();
  return { latencies, seconds };
}

console.log("warming up…");
await run(300, 4, "warm-up");

const pids = { service: server.pid, ...stackPids() };
const cpuBefore = cpuSeconds(pids);
console.log(`sequential: ${sequential} posts.create, one at a time`);
const seq = await run(sequential, 1, "sequential");
const rows = [{ mode: "sequential", concurrency: 1, ...summarize(seq.latencies), "mutations/s": (sequential / seq.seconds).toFixed(0) }];

for (const c of levels.filter((l) => l > 1)) {
  console.log(`concurrency ${c}: ${concurrent} posts.create`);
  const r = await run(concurrent, c, `concurrency ${c}`);
  rows.push({ mode: "concurrent", concurrency: c, ...summarize(r.latencies), "mutations/s": (concurrent / r.seconds).toFixed(0) });
}

const cpu = cpuPerUnit(cpuBefore, cpuSeconds(pids), sequential + concurrent * levels.filter((l) => l > 1).length, "post").text;
const table = markdownTable(rows);
console.log(`\n${table}\n${cpu}`);
record(
  "Write latency (posts.create over HTTP)",
  `npm run bench:writes -- --sequential ${sequential} --concurrent ${concurrent} --concurrency ${levels.join(",")}`,
  table,
  "Client: @trpc/client httpLink (no batching) in its own Bun process; server: `bun src/main.ts serve` in another; " +
    "each mutation is one PostgreSQL transaction on the local stack, with Kafka Connect/Debezium streaming the WAL and every other stack component running on the same 2 cores. " +
    `${cpu} (over every measured post; the workers apply them meanwhile, so some of the fan-out of the last ones may fall outside).`,
);
await server.stop();
process.exit(0);
