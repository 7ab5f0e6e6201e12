/**
 * The data generator: `npm run seed -- [--users 10000] [--activities 1000000] [--follows 20]
 * [--skew 3] [--days 7] [--prefix bench]`. Writes a generated social network into the stack's
 * PostgreSQL (see bench/dataset.ts for its shape), with a progress bar per table; the running
 * pipeline then builds every feed from the change stream. Needs the stack up.
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config";
import { createPostgres } from "../src/clients/postgres";
import { type DatasetOptions, defaultDataset, seedDataset } from "./dataset";
import { withStackSecret } from "../deploy/stack/secret";

export function datasetArgs(args = process.argv.slice(2)): DatasetOptions & { rest: Record<string, string | undefined> } {
  const { values } = parseArgs({
    args,
    strict: false,
    options: Object.fromEntries(Object.keys(defaultDataset).map((k) => [k, { type: "string" as const }])),
  });
  const pick = (k: keyof DatasetOptions) => {
    const v = values[k];
    if (v === undefined || v === true) return defaultDataset[k];
    if (k === "prefix") return String(v);
    const num = Number(String(v).replaceAll("_", ""));
    if (!Number.isFinite(num)) throw new Error(`--${k} must be a number, got "${v}"`);
    return num;
  };
  const o = Object.fromEntries(Object.keys(defaultDataset).map((k) => [k, pick(k as keyof DatasetOptions)])) as unknown as DatasetOptions;
  return { ...o, rest: values as Record<string, string | undefined> };
}

if (import.meta.main) {
  const o = datasetArgs();
  const config = loadConfig(withStackSecret()); // the stack's token secret, so that tokens agree with the services it runs
  const sql = createPostgres(config.postgres, { max: 2 });
  try {
    console.log(`seeding "${o.prefix}": ${o.users} users, ~${o.follows} follows each (skew ${o.skew}), ${o.activities} activities over ${o.days} days`);
    const r = await seedDataset(sql, o);
    console.log(`seeded in ${r.seconds.toFixed(1)} s: ${r.users} users, ${r.follows} follows, ${r.posts} posts, ${r.likes} likes, ${r.comments} comments`);
  } catch (err) {
    console.error(`seed: ${err instanceof Error ? err.message : err}`);
    process.exitCode = 1;
  } finally {
    await sql.end();
  }
}
