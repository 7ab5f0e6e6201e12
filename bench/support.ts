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
    "p99 ms": f(percentile(sorted, 99)),
    "max ms": f(sorted.at(-1) ?? Number.NaN),
  };
}

export function machine() {
  const cpu = cpus();
  return `${cpu.length} cores (${cpu[0]?.model.trim() ?? "unknown CPU"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Bun ${Bun.version}`;
}

/** Appends a dated section to docs/benchmarks.md: what ran, where, how to repeat it, and the table. */
export function record(title: string, command: string, table: string, notes = "") {
  const file = resolve(import.meta.dir, "../docs/benchmarks.md");
  if (!existsSync(file)) writeFileSync(file, "# Benchmarks\n\nEvery section is appended by the script that measured it.\n");
  const when = new Date().toISOString().replace("T", " ").slice(0, 16);
  appendFileSync(file, `\n## ${title} — ${when} UTC\n\nMachine: ${machine()}. Command: \`${command}\`.\n\n${table}\n${notes ? `\n${notes}\n` : ""}`);
  console.log(`\nappended to ${file}`);
}

/** A markdown table from rows of equal keys. */
export function markdownTable(rows: Record<string, string | number>[]) {
  const keys = Object.keys(rows[0] ?? {});
  return [`| ${keys.join(" | ")} |`, `|${keys.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${keys.map((k) => r[k]).join(" | ")} |`)].join("\n");
}
