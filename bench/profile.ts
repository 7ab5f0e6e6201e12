import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Profiles for a benchmark run (`--profile <dir>`): Bun's CPU profiler for the service (its flags,
 * passed to each service process) and Java Flight Recorder for the JVMs (Kafka, Connect,
 * Cassandra), started and stopped with jcmd around the measured work. Each JVM's recording is
 * summarised as its hottest methods, by samples where the method itself runs and by samples
 * where it is anywhere on the stack, next to the .jfr file for JDK Mission Control.
 */

/** Flags for a Bun service process that write a CPU profile (`<dir>/<name>.cpuprofile`) when it exits. */
export const bunProfileArgs = (dir: string, name: string) => ["--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`];

const jcmd = (pid: number, ...args: string[]) => {
  const r = spawnSync("jcmd", [String(pid), ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`jcmd ${pid} ${args.join(" ")}: ${r.stderr || r.stdout}`);
};

/** Starts a flight recording (the "profile" settings: a stack sample every 10 ms per thread) in each JVM. */
export function startRecordings(dir: string, jvms: Record<string, number | undefined>) {
  mkdirSync(dir, { recursive: true });
  const started = Object.entries(jvms).filter((e): e is [string, number] => e[1] !== undefined);
  for (const [, pid] of started) jcmd(pid, "JFR.start", "name=feedline-bench", "settings=profile");
  return {
    /** Stops the recordings, writes each to `<dir>/<name>.jfr` and its summary to `<dir>/<name>.txt`; returns the summaries' paths. */
    stop() {
      return started.map(([name, pid]) => {
        const file = join(dir, `${name}.jfr`);
        jcmd(pid, "JFR.stop", "name=feedline-bench", `filename=${file}`);
        const summary = join(dir, `${name}.txt`);
        writeFileSync(summary, summarise(file));
        return summary;
      });
    },
  };
}

/** The hottest methods of a recording's execution samples: self (top frame) and total (anywhere on the stack). */
export function summarise(file: string, top = 40) {
  const r = spawnSync("jfr", ["print", "--events", "jdk.ExecutionSample", "--stack-depth", "64", file], { encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`jfr print ${file}: ${r.stderr}`);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const threads = new Map<string, number>();
  let samples = 0;
  for (const event of r.stdout.split("jdk.ExecutionSample {").slice(1)) {
    samples++;
    bump(threads, /sampledThread = "([^"]*)"/.exec(event)?.[1]?.replace(/\d+/g, "N") ?? "?");
    const frames = [...event.matchAll(/^\s+([\w$.<>/]+\.[\w$<>]+)\(/gm)].map((m) => m[1]!);
    if (frames[0]) bump(self, frames[0]);
    for (const f of new Set(frames)) bump(total, f);
  }
  return report(file, samples, top, { threads, self, "total (on the stack)": total });
}

/** One more sample for `key`. */
const bump = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);

/** A summary: the sample count, then each section's `top` keys by share of the samples. */
function report(file: string, samples: number, top: number, sections: Record<string, Map<string, number>>) {
  const table = ([title, counts]: [string, Map<string, number>]) =>
    [`## ${title}`, ...[...counts].sort((a, b) => b[1] - a[1]).slice(0, top).map(([key, n]) => `${((100 * n) / samples).toFixed(1).padStart(5)}%  ${key}`)].join("\n");
  return [`${samples} samples in ${file}`, ...Object.entries(sections).map(table), ""].join("\n\n");
}

type ProfileNode = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] };

/**
 * A Bun CPU profile's hottest functions and packages, by sample count: each sample is one moment
 * JavaScript ran (the timings Bun attaches weigh a sample by the gap before it, which puts idle
 * time on whatever ran after it). Written to `<profile>.txt`; returns that path.
 */
export function summariseBun(file: string, top = 40) {
  const profile = JSON.parse(readFileSync(file, "utf8")) as { nodes: ProfileNode[]; samples: number[] };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const where = (n: ProfileNode) => n.callFrame.url.replace(/^file:\/\//, "").replace(/^.*node_modules\//, "").replace(/^\/.*\/(src|bench|deploy)\//, "$1/") || "[native]";
  const name = (n: ProfileNode) => `${n.callFrame.functionName || "(anonymous)"} ${where(n)}:${n.callFrame.lineNumber + 1}`;
  const pkg = (n: ProfileNode) => (where(n).startsWith("@") ? where(n).split("/").slice(0, 2).join("/") : where(n).split("/")[0]!);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const packages = new Map<string, number>();
  for (const id of profile.samples) {
    const leaf = byId.get(id)!;
    bump(self, name(leaf));
    // A native leaf counts for the nearest JavaScript caller's package.
    let owner: ProfileNode | undefined = leaf;
    while (owner && !owner.callFrame.url) owner = byId.get(parent.get(owner.id) ?? -1);
    bump(packages, owner ? pkg(owner) : "[native]");
    const seen = new Set<string>();
    for (let n: ProfileNode | undefined = leaf; n; n = byId.get(parent.get(n.id) ?? -1)) seen.add(name(n));
    for (const k of seen) bump(total, k);
  }
  const out = file.replace(/\.cpuprofile$/, ".txt");
  writeFileSync(out, report(file, profile.samples.length, top, { "packages (native frames counted for their caller)": packages, self, "total (on the stack)": total }));
  return out;
}

/** Bun's CPU profiles in `dir`, each summarised; returns the summaries' paths. */
export const bunProfiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).map((f) => summariseBun(join(dir, f)));

/** The first `lines` lines of a file, for printing a summary. */
export const head = (file: string, lines = 30) => readFileSync(file, "utf8").split("\n").slice(0, lines).join("\n");
