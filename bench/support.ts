import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { resolve } from "node:path";

/** Shared by the benchmark scripts: percentiles, the machine line, and the results file. */

export function percentile(sorted: number[], p: number) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Count and percentiles of latencies, as table columns. */
export function summarize(latenciesMs: number[]) {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const f = (n: number) => n.toFixed(2);
  return {
    n: sorted.length,
    "p50 ms": f(percentile(sorted, 50)),
    "p90 ms": f(percentile(sorted, 90)),
    "p95 ms": f(percentile(sorted, 95)),
    "p99 ms": f(percentile(sorted, 99)),
    "max ms": f(sorted.at(-1) ?? Number.NaN),
  };
}

export function machine() {
  const cpu = cpus();
  return `${cpu.length} cores (${cpu[0]?.model.trim() ?? "unknown CPU"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Bun ${Bun.version}`;
}

const tuning = [
  "FEEDLINE_FANOUT_BATCH",
  "FEEDLINE_FANOUT_CONCURRENCY",
  "FEEDLINE_FANOUT_CHUNK",
  "FEEDLINE_HYBRID_THRESHOLD",
  "FEEDLINE_HYBRID_PUSH_BELOW",
  "FEEDLINE_WORKER_CONCURRENCY",
  "FEEDLINE_STREAM_MAX_WAIT_MS",
  "FEEDLINE_FEED_LENGTH",
  "FEEDLINE_CACHE_TTL_SECONDS",
];

/** Appends a dated section to docs/benchmarks.md: what ran, where, how to repeat it, and the table. */
export function record(title: string, command: string, table: string, notes = "") {
  const file = resolve(import.meta.dir, "../docs/benchmarks.md");
  if (!existsSync(file)) writeFileSync(file, "# Benchmarks\n\nEvery section is appended by the script that measured it.\n");
  const when = new Date().toISOString().replace("T", " ").slice(0, 16);
  // Tuning set in the environment is part of the command: the service inherits it.
  const env = tuning.filter((k) => process.env[k] !== undefined).map((k) => `${k}=${process.env[k]} `).join("");
  appendFileSync(file, `\n## ${title} — ${when} UTC\n\nMachine: ${machine()}. Command: \`${env}${command}\`.\n\n${table}\n${notes ? `\n${notes}\n` : ""}`);
  console.log(`\nappended to ${file}`);
}

/** A markdown table from rows of equal keys. */
export function markdownTable(rows: Record<string, string | number>[]) {
  // Every row's columns, in the order they first appear: a row may have columns others lack.
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return [`| ${keys.join(" | ")} |`, `|${keys.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${keys.map((k) => r[k] ?? "").join(" | ")} |`)].join("\n");
}

/**
 * A status line on stderr for long operations. On a terminal it is redrawn in place; elsewhere
 * (a CI log, a file) it is printed as a plain line at most every 10 s, and once more at the end,
 * rather than thousands of carriage-return updates.
 */
export function statusLine() {
  const tty = Boolean(process.stderr.isTTY);
  let printedAt = Number.NEGATIVE_INFINITY;
  let unprinted = "";
  return {
    update(text: string) {
      if (tty) return void process.stderr.write(`\r  ${text}   `);
      unprinted = text;
      if (performance.now() - printedAt < 10_000) return;
      printedAt = performance.now();
      unprinted = "";
      process.stderr.write(`  ${text}\n`);
    },
    done() {
      if (tty) process.stderr.write("\n");
      else if (unprinted) process.stderr.write(`  ${unprinted}\n`);
    },
  };
}

/** A progress bar for long operations: done/total, rate and time left (see statusLine). */
export function progressBar(label: string, total: number) {
  const started = performance.now();
  const line = statusLine();
  let done = 0;
  let drawn = 0;
  const draw = () => {
    const elapsed = (performance.now() - started) / 1000;
    const rate = done / Math.max(elapsed, 1e-3);
    const width = 30;
    const filled = Math.round((width * done) / Math.max(total, 1));
    const left = rate > 0 ? `${Math.ceil((total - done) / rate)} s left` : "";
    line.update(`${label} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total} ${Math.round(rate)}/s ${left}`);
  };
  return {
    tick(n: number) {
      done += n;
      if (performance.now() - drawn > 200 || done >= total) {
        drawn = performance.now();
        draw();
      }
    },
    finish() {
      draw();
      line.done();
      return (performance.now() - started) / 1000;
    },
  };
}

/** A seeded random number generator (mulberry32): the same seed replays the same workload. */
export function seededRandom(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What `wrk --latency` measured: requests, requests/s, latency percentiles (ms), and answers that were not 2xx/3xx. */
export type WrkResult = { requests: number; perSecond: number; p50: number; p99: number; errors: number };

/**
 * Runs wrk against `url` (GET) and parses its report. `script` is a Lua file (headers, a token
 * per request, …). wrk comes from Debian; the stack tool installs it.
 */
export function wrk(url: string, o: { threads: number; connections: number; seconds: number; script?: string }): WrkResult {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.seconds}s`, "--latency", ...(o.script ? ["-s", o.script] : []), url];
  const r = spawnSync("wrk", args, { encoding: "utf8" });
  if (r.error || r.status !== 0) throw new Error(`wrk ${args.join(" ")} failed: ${r.error?.message ?? r.stderr}`);
  return parseWrk(r.stdout);
}

/**
 * wrk until `done()` says the work is over (checked every 100 ms, within `maxSeconds`): wrk runs
 * for its whole duration even when its script stops every thread, but on SIGINT it reports at
 * once, with the rate over the time it really ran.
 */
export async function wrkUntil(url: string, o: { threads: number; connections: number; maxSeconds: number; script?: string }, done: () => Promise<boolean>) {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.maxSeconds}s`, "--latency", ...(o.script ? ["-s", o.script] : []), url];
  const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  let running = true;
  void exited.then(() => (running = false));
  while (running && !(await done())) await Bun.sleep(100);
  child.kill("SIGINT");
  if ((await exited) !== 0 && !out) throw new Error(`wrk ${args.join(" ")} failed: ${err}`);
  return parseWrk(out);
}

/** wrk's `--latency` report, read back (latencies in ms). */
export function parseWrk(out: string): WrkResult {
  const ms = (text: string | undefined) => {
    const m = /^([\d.]+)(us|ms|s|m)$/.exec(text ?? "");
    if (!m) return Number.NaN;
    return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as "us" | "ms" | "s" | "m"];
  };
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  if (requests === 0) throw new Error(`wrk measured nothing:\n${out}`);
  return {
    requests,
    perSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    // Anchored: "68.50%" in the thread stats must not pass for the 50th percentile.
    p50: ms(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
    p99: ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
    errors:
      Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) +
      (/Socket errors: (.*)/.exec(out)?.[1]?.match(/\d+/g) ?? []).reduce((sum, n) => sum + Number(n), 0),
  };
}

/** redis-benchmark's requests/s for one command (`-c` clients, `-n` requests) against the Redis on `port`. */
export function redisBenchmark(port: number, command: string[], o: { clients: number; requests: number }) {
  const r = spawnSync("redis-benchmark", ["-p", String(port), "-c", String(o.clients), "-n", String(o.requests), "-q", ...command], { encoding: "utf8" });
  const line = r.stdout.trim().split("\r").at(-1) ?? "";
  const perSecond = Number(/([\d.]+) requests per second/.exec(line)?.[1]);
  if (!Number.isFinite(perSecond)) throw new Error(`redis-benchmark measured nothing: ${r.stdout}${r.stderr}`);
  return { perSecond, line: line.trim() };
}
