import { createTRPCClient, httpLink } from "@trpc/client";
import { readdirSync, readFileSync } from "node:fs";
import type { Admin } from "kafkajs";
import { createStackContext } from "../deploy/stack/context";
import { createStack } from "../deploy/stack/stack";
import { generousRates, launchService, type ServiceOptions } from "../deploy/stack/service";
import { loadConfig } from "../src/config";
import { createServices, type Services } from "../src/services";
import type { AppRouter } from "../src/api";
import { consumerLag, streamGroups } from "../src/stream/lag";
import { statusLine } from "./support";
import { withStackSecret } from "../deploy/stack/secret";

/**
 * What the pipeline benchmarks share: the service run as its own process (as in production:
 * API and workers, `feedline serve`), its /metrics parsed, and a wait for "everything written
 * so far to PostgreSQL is in the feeds" that does not rely on sleeping.
 */

/** The service as a benchmark runs it (deploy/stack/service.ts): its stderr passed through, its /metrics parsed. */
export type Service = Awaited<ReturnType<typeof startService>>;

/** Starts `src/main.ts serve` on a free port with the given role (default all) and waits until /healthz answers 200 (or as `ready` says). */
export async function startService(opts: Pick<ServiceOptions, "role" | "env" | "ready" | "runtimeArgs"> = {}) {
  const service = await launchService({ ...opts, env: { ...generousRates(), ...opts.env }, output: "forward", stopGraceMs: 15_000 });
  return {
    ...service,
    metrics: async () => parseMetrics(await (await fetch(`${service.adminUrl}/metrics`)).text()),
  };
}

/** A typed tRPC client of the service at `baseUrl` (its /trpc), acting as the token's user if given. */
export function apiClient(baseUrl: string, token?: string) {
  return createTRPCClient<AppRouter>({ links: [httpLink({ url: `${baseUrl}/trpc`, headers: () => (token ? { authorization: `Bearer ${token}` } : {}) })] });
}

/** What every pipeline benchmark opens first: the stores, a Kafka admin, and a check that nothing else consumes the stream. */
export async function openBench() {
  const config = loadConfig({ ...withStackSecret(), ...generousRates() }); // the stack's token secret, so that tokens agree with the services it runs
  const services = await createServices(config);
  const admin = services.kafka.admin();
  await admin.connect();
  await assertStreamIdle(admin, services);
  return { config, services, admin };
}

/** Refuses to measure while another process consumes the stream (its work would be counted, or missed). */
export async function assertStreamIdle(admin: Admin, services: Services) {
  for (const { groupId } of streamGroups(services.config)) {
    const { groups } = await admin.describeGroups([groupId]);
    const members = groups[0]?.members.length ?? 0;
    if (members > 0)
      throw new Error(`consumer group ${groupId} has ${members} member(s): stop the running service (npm start / feedline serve) before benchmarking`);
  }
}

/** Total consumer lag of both stream groups. */
export async function totalLag(admin: Admin, services: Services) {
  return (await consumerLag(admin, services.config)).reduce((sum, r) => sum + r.lag, 0);
}

/**
 * Waits until everything committed to PostgreSQL so far has gone through the pipeline: touches a
 * marker user's display name, waits for the worker to store it in Cassandra (so Debezium has
 * emitted everything before it, and the stream reached it), then for zero lag on both groups.
 * Prints the lag while it waits.
 */
export async function waitForPipeline(services: Services, admin: Admin, markerUserId: string, opts: { timeoutMs?: number; label?: string } = {}) {
  const { sql, cassandra } = services;
  const mark = `marker ${Date.now()}`;
  await sql`update users set display_name = ${mark} where id = ${markerUserId}`;
  const started = performance.now();
  const deadline = Date.now() + (opts.timeoutMs ?? 3_600_000);
  const line = statusLine();
  let seen = false;
  let quiet = 0;
  while (quiet < 2) {
    if (Date.now() > deadline) throw new Error(`the pipeline did not catch up within ${(opts.timeoutMs ?? 3_600_000) / 1000} s`);
    await Bun.sleep(seen ? 1000 : 500);
    if (!seen) {
      const row = (await cassandra.execute("SELECT display_name FROM users WHERE user_id = ?", [markerUserId])).first();
      seen = row?.display_name === mark;
    }
    const lag = await totalLag(admin, services).catch(() => Number.NaN);
    quiet = seen && lag === 0 ? quiet + 1 : 0;
    line.update(`${opts.label ?? "waiting for the pipeline"}: lag ${lag}, marker ${seen ? "applied" : "pending"}, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  line.done();
  return (performance.now() - started) / 1000;
}

export type MetricSet = ReturnType<typeof parseMetrics>;

/** Prometheus text format, read back: sums over series, and histogram quantiles. */
export function parseMetrics(text: string) {
  const series: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    series.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  const matches = (labels: Record<string, string>, want: Record<string, string>) => Object.entries(want).every(([k, v]) => labels[k] === v);
  const sum = (name: string, want: Record<string, string> = {}) =>
    series.filter((s) => s.name === name && matches(s.labels, want)).reduce((a, s) => a + s.value, 0);
  return {
    sum,
    /** Cumulative bucket counts of a histogram series, by upper bound. */
    buckets(name: string, want: Record<string, string> = {}) {
      return series
        .filter((s) => s.name === `${name}_bucket` && matches(s.labels, want))
        .map((s) => ({ le: s.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels.le), count: s.value }))
        .sort((a, b) => a.le - b.le);
    },
  };
}

/**
 * Histogram statistics between two scrapes (after − before): count, mean, and the upper bound of
 * the bucket holding each quantile (so "≤ 0.1 s" means the quantile fell in the bucket ending there).
 */
export function histogramDelta(before: MetricSet, after: MetricSet, name: string, want: Record<string, string> = {}) {
  const b = new Map(before.buckets(name, want).map((x) => [x.le, x.count]));
  const buckets = after.buckets(name, want).map((x) => ({ le: x.le, count: x.count - (b.get(x.le) ?? 0) }));
  const count = after.sum(`${name}_count`, want) - before.sum(`${name}_count`, want);
  const sum = after.sum(`${name}_sum`, want) - before.sum(`${name}_sum`, want);
  const quantile = (q: number) => buckets.find((x) => x.count >= q * count)?.le ?? Number.NaN;
  return { count, mean: count > 0 ? sum / count : Number.NaN, p50: quantile(0.5), p95: quantile(0.95), p99: quantile(0.99) };
}

/**
 * CPU seconds used so far by each named process with its descendants (PostgreSQL's backends, say:
 * the live ones, and the ones that exited, which the kernel adds to their parent), and by the
 * whole machine (from /proc).
 */
export function cpuSeconds(pids: Record<string, number | undefined>) {
  const ticks = 100; // USER_HZ on Linux
  const stats = new Map<number, string[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      stats.set(Number(entry), readFileSync(`/proc/${entry}/stat`, "utf8").replace(/^.*\) /, "").split(" "));
    } catch {
      // exited meanwhile
    }
  }
  const children = new Map<number, number[]>();
  for (const [pid, f] of stats) children.set(Number(f[1]), [...(children.get(Number(f[1])) ?? []), pid]);
  const tree = (pid: number, top: boolean): number => {
    const f = stats.get(pid);
    if (!f) return 0;
    // utime + stime, and for the top process cutime + cstime: what its reaped descendants used.
    const own = Number(f[11]) + Number(f[12]) + (top ? Number(f[13]) + Number(f[14]) : 0);
    return own + (children.get(pid) ?? []).reduce((sum, c) => sum + tree(c, false), 0);
  };
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) if (pid && stats.has(pid)) out[name] = tree(pid, true) / ticks;
  const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]!.split(/\s+/).slice(1).map(Number);
  out.machine = (cpu.reduce((a, b) => a + b, 0) - cpu[3]! - cpu[4]!) / ticks; // all but idle and iowait
  return out;
}

/** The stack's processes by the stack tool's own records: PostgreSQL's postmaster (its backends count with it), Redis, the JVMs. */
export function stackPids() {
  const stack = createStack(createStackContext(loadConfig()));
  return Object.fromEntries(stack.components.map((c) => [c.name, c.pid()])) as Record<"postgres" | "redis" | "kafka" | "registry" | "connect" | "cassandra", number | undefined>;
}

/**
 * One line for a benchmark's report: CPU-ms per unit of work (a post, a page) for each process
 * of the stack and in total, between two cpuSeconds snapshots. Machines differ by 4× in speed;
 * CPU per unit travels between them.
 */
export function cpuPerUnit(before: Record<string, number>, after: Record<string, number>, units: number, unit: string) {
  const names = Object.keys(after).filter((k) => k !== "machine" && k in before);
  const per = (k: string) => ((after[k]! - before[k]!) * 1000) / units;
  const total = names.reduce((sum, k) => sum + per(k), 0);
  return { totalMs: total, text: `CPU-ms per ${unit}: ${names.map((k) => `${k} ${per(k).toFixed(2)}`).join(", ")}; total ${total.toFixed(2)}` };
}

/** Per process: share of one core used between two cpuSeconds snapshots over `seconds`. */
export function cpuShare(before: Record<string, number>, after: Record<string, number>, seconds: number) {
  return Object.fromEntries(Object.keys(after).filter((k) => k in before).map((k) => [k, `${Math.round((100 * (after[k]! - before[k]!)) / seconds)}%`]));
}
