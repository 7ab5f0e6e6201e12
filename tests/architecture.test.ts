import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The layout's rules (docs/architecture.md), checked on the source itself: the folders follow the
 * pipeline, a module imports only from its own layer's folder or from lower layers, the import
 * graph has no cycles, files stay small, and the docs link only to files in the repository.
 */

const root = resolve(import.meta.dir, "..");

/** Lowest first. A module may import its own folder (or file) and anything in a lower layer. */
const layers: string[][] = [
  ["src/names.ts"],
  ["src/config.ts", "src/errors.ts", "src/metrics.ts", "src/parallel.ts", "src/auth.ts", "src/model/"],
  ["src/clients/"],
  ["src/source/", "src/feeds/"],
  ["src/fanout/"],
  ["src/stream/", "src/capture/"],
  ["src/read/", "src/health.ts"],
  ["src/api/"],
  ["src/services.ts", "src/app.ts"],
  ["src/background.ts"],
  ["src/background-thread.ts"],
  ["src/main.ts"],
];

/** The files under `dir` whose names end in `ext`, skipping dependencies and local state. */
function files(dir: string, ext = ""): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (["node_modules", ".git", ".stack", "dist"].includes(name)) return [];
    return statSync(join(root, path)).isDirectory() ? files(path, ext) : path.endsWith(ext) ? [path] : [];
  });
}

const sources = files("src", ".ts");

/** The src/ modules a file imports (relative specifiers only; packages are not modules of ours). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8");
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]*)"/g)].map((m) => m[1]!);
  return specs.map((spec) => {
    const base = relative(root, resolve(dirname(join(root, file)), spec));
    const found = [base, `${base}.ts`, join(base, "index.ts")].find((p) => sources.includes(p));
    if (!found) throw new Error(`${file} imports ${spec}, which is not a file in src/`);
    return found;
  });
}

const graph = new Map(sources.map((f) => [f, importsOf(f)]));

function placeOf(file: string) {
  for (const [layer, entries] of layers.entries()) {
    const entry = entries.find((e) => (e.endsWith("/") ? file.startsWith(e) : file === e));
    if (entry) return { layer, entry };
  }
  return undefined;
}

describe("the layout", () => {
  test("every module in src/ belongs to a layer", () => {
    expect(sources.filter((f) => !placeOf(f))).toEqual([]);
  });

  test("no module imports a higher layer, or another folder of its own layer", () => {
    const wrong: string[] = [];
    for (const [file, imports] of graph) {
      const from = placeOf(file)!;
      for (const target of imports) {
        const to = placeOf(target)!;
        if (to.layer > from.layer || (to.layer === from.layer && to.entry !== from.entry)) wrong.push(`${file} → ${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test("the import graph has no cycles", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "open") {
        cycles.push([...path.slice(path.indexOf(file)), file].join(" → "));
        return;
      }
      state.set(file, "open");
      for (const next of graph.get(file)!) visit(next, [...path, file]);
      state.set(file, "done");
    };
    for (const file of sources) visit(file, []);
    expect(cycles).toEqual([]);
  });

  test("no file in src/ is over 250 lines", () => {
    const long = sources.map((f) => ({ f, lines: readFileSync(join(root, f), "utf8").split("\n").length })).filter((x) => x.lines > 250);
    expect(long).toEqual([]);
  });
});

describe("the docs", () => {
  const docs = ["README.md", ...files("docs", ".md")];

  test("link only to files inside the repository, and every file they link to exists", () => {
    const broken: string[] = [];
    for (const doc of docs) {
      const text = readFileSync(join(root, doc), "utf8");
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^(https?:|mailto:|#)/.test(target!)) continue;
        const path = resolve(dirname(join(root, doc)), target!.split("#")[0]!);
        if (relative(root, path).startsWith("..") || !existsSync(path)) broken.push(`${doc}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  /** Names that look like files and are not: a Kafka header. */
  const notFiles = new Set(["change.ts"]);

  test("every file they name in code spans exists (a path, or a file name found in the repository)", () => {
    const all = files(".");
    const missing: string[] = [];
    for (const doc of docs.filter((d) => d !== "docs/benchmarks.md")) {
      const text = readFileSync(join(root, doc), "utf8");
      for (const [, name] of text.matchAll(/`([\w./-]+\.(?:ts|sql|cql|json|sh|yml|md))`/g)) {
        if (name!.includes("NNN") || notFiles.has(name!)) continue;
        const found = existsSync(join(root, name!)) || existsSync(join(root, dirname(doc), name!)) || all.some((f) => f.endsWith(`/${name}`));
        if (!found) missing.push(`${doc}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
