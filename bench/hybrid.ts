/**
 * Hybrid fan-out, measured (docs/stream.md, "Huge accounts"):
 *   npm run bench:hybrid -- [--followers 1000000] [--huge 5] [--posts 100] [--readers 5] [--seconds 10] [--connections 32]
 * - Set-up: `--huge` accounts, each with `--followers` followers, and `--readers` users who follow
 *   all of them, plus a control reader who follows as many ordinary accounts with as many posts
 *   (pushed into its feed). The readers' follows, the accounts and their 200 posts each go through
 *   the pipeline. The crowds of followers do not: a million follow edges through one account's
 *   serial stream take hours here, and a pulled account's post never reads them, so the bench
 *   writes them straight into Cassandra's `followers` rows and the account's `reach` (count and
 *   mode, at clock write times that every stream write outranks), as the stream would have left
 *   them. They exist in no other table; `stack reset` clears them.
 * - Freshness: `--posts` posts by the huge accounts through the API, one at a time; each post's
 *   time from the write request until it is the first item of each reader's `feed.home` (HTTP,
 *   polled every 10 ms), p50 and p99 over every reader and post; the Cassandra mutations they
 *   cost (Cassandra's own per-table write counts, system_views.local_write_latency) and CPU-ms
 *   per post of every process.
 * - Pages: `feed.home` cache hits (limit 20) of one reader (5 huge accounts merged in) and of the
 *   control reader (the same number of items, pushed), each with wrk -t2 -c32, CPU-ms per page.
 * Needs the stack up, wrk, and no service running.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { Services } from "../src/services";
import { inParallel } from "../src/parallel";
import { cpuPerUnit, cpuSeconds, openBench, stackPids, startService, waitForPipeline } from "./pipeline";
import { markdownTable, progressBar, record, statusLine, summarize, wrk } from "./support";

const { values } = parseArgs({
  options: {
    followers: { type: "string", default: "1000000" },
    huge: { type: "string", default: "5" },
    posts: { type: "string", default: "100" },
    readers: { type: "string", default: "5" },
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "32" },
  },
});
const [followers, huge, postCount, readerCount, seconds, connections] = ["followers", "huge", "posts", "readers", "seconds", "connections"].map((k) => Number(values[k as keyof typeof values]));
if (![followers, huge, postCount, readerCount, seconds, connections].every((n) => Number.isInteger(n) && n! > 0)) throw new Error("every option takes a positive whole number");

const { config, services, admin } = await openBench();
const { sql, cassandra } = services;
if (followers! < config.stream.hybrid.threshold) console.warn(`--followers ${followers} is below FEEDLINE_HYBRID_THRESHOLD (${config.stream.hybrid.threshold}): the accounts are pushed`);
const scratch = `/tmp/feedline-bench-hybrid-${process.pid}`;
mkdirSync(scratch, { recursive: true });

// ---- set-up -------------------------------------------------------------------------------------
const tag = `hy${Date.now().toString(36)}`;
const newUsers = async (n: number, what: string) =>
  (await sql`insert into users (handle) select ${`${tag}_${what}_`} || g from generate_series(1, ${n}) g returning id::text as id`).map((r) => r.id as string);
const postsBy = (authors: string[], n: number) =>
  sql`insert into posts (author_id, body, created_at)
      select a, 'post ' || g || ' of a benchmark account, long enough to look like a real one', now() - make_interval(secs => g * 60 + a % 60)
      from unnest(${authors}::bigint[]) a, generate_series(1, ${n}) g`;
const stars = await newUsers(huge!, "star");
const plain = await newUsers(huge!, "plain");
const readers = await newUsers(readerCount!, "reader");
const [control] = await newUsers(1, "control");

/** Followers rows in one partition per account, 100 to an unlogged batch, at a clock write time (every stream write is later). */
async function crowdOf(account: string, n: number, bar: ReturnType<typeof progressBar>) {
  const ts = Date.now() * 1000;
  const batches = Array.from({ length: Math.ceil(n / 100) }, (_, b) => b);
  await inParallel(batches, 8, async (b) => {
    const rows = Array.from({ length: Math.min(100, n - b * 100) }, (_, i) => ({
      query: "INSERT INTO followers (user_id, follower_id, since) VALUES (?, ?, ?) USING TIMESTAMP ?",
      params: [account, `${tag}-fan-${b * 100 + i}`, new Date(), ts],
    }));
    await cassandra.batch(rows, { logged: false });
    bar.tick(rows.length);
  });
  await cassandra.execute("UPDATE reach USING TIMESTAMP ? SET followers = ?, pulled = ? WHERE user_id = ?", [ts, n, n >= config.stream.hybrid.threshold, account]);
}
const bar = progressBar(`followers rows for ${huge} accounts`, followers! * huge!);
for (const star of stars) await crowdOf(star, followers!, bar);
bar.finish();

const service = await startService();
await sql`insert into follows (follower_id, followee_id) select r, s from unnest(${readers}::bigint[]) r, unnest(${stars}::bigint[]) s`;
await sql`insert into follows (follower_id, followee_id) select ${control!}::bigint, unnest(${plain}::bigint[])`;
await postsBy([...stars, ...plain], 200);
await waitForPipeline(services, admin, control!, { label: "waiting for the readers' follows and the accounts' posts" });
const base = `http://127.0.0.1:${service.port}/trpc`;
const homeUrl = `${base}/feed.home?input=${encodeURIComponent(JSON.stringify({ limit: 20 }))}`;
const tokens = new Map([...readers, control!].map((u) => [u, services.tokens.mint(u)]));
const firstItem = async (reader: string) => {
  const res = await fetch(homeUrl, { headers: { authorization: `Bearer ${tokens.get(reader)}` } });
  return ((await res.json()) as { result: { data: { items: { id: string }[] } } }).result.data.items[0]?.id;
};
const pids = { service: service.pid, ...stackPids() };

// ---- freshness ----------------------------------------------------------------------------------
const latencies: number[] = [];
let late = 0;
const writesBefore = await cassandraWrites(services);
const cpuBefore = cpuSeconds(pids);
const line = statusLine();
for (let i = 0; i < postCount!; i++) {
  const author = stars[i % stars.length]!;
  const t0 = performance.now();
  const [row] = await sql`insert into posts (author_id, body) values (${author}, ${`live post ${i}`}) returning id::text as id`;
  const id = `shard:${row!.id}`;
  const waiting = new Set(readers);
  while (waiting.size > 0 && performance.now() - t0 < 10_000) {
    await Promise.all(
      [...waiting].map(async (r) => {
        if ((await firstItem(r)) !== id) return;
        waiting.delete(r);
        latencies.push(performance.now() - t0);
      }),
    );
    if (waiting.size > 0) await Bun.sleep(10);
  }
  late += waiting.size;
  line.update(`post ${i + 1}/${postCount}: ${latencies.length} deliveries, ${late} not within 10 s`);
}
line.done();
await waitForPipeline(services, admin, control!, { label: "draining" });
const cpu = cpuPerUnit(cpuBefore, cpuSeconds(pids), postCount!, "post");
const writes = (await cassandraWrites(services)) - writesBefore;
const fresh = summarize(latencies);

// ---- pages --------------------------------------------------------------------------------------
const pages: Record<string, string | number>[] = [];
try {
  for (const [who, reader] of [
    [`a reader of ${huge} pulled accounts`, readers[0]!],
    [`a reader of ${huge} pushed accounts (control)`, control!],
  ] as const) {
    const script = `${scratch}/${reader}.lua`;
    writeFileSync(script, `wrk.headers["authorization"] = "Bearer ${tokens.get(reader)}"\n`);
    wrk(homeUrl, { threads: 2, connections: connections!, seconds: 2, script }); // caches, JIT and connections warm
    const before = cpuSeconds(pids);
    const r = wrk(homeUrl, { threads: 2, connections: connections!, seconds: seconds!, script });
    const c = cpuPerUnit(before, cpuSeconds(pids), r.requests, "page");
    pages.push({ "feed.home (limit 20), cache hits": who, "pages/s": Math.round(r.perSecond), "p50 ms": r.p50.toFixed(2), "p99 ms": r.p99.toFixed(2), errors: r.errors, "CPU-ms/page": c.text.replace(/^CPU-ms per page: /, "") });
  }
} finally {
  await service.stop();
  rmSync(scratch, { recursive: true, force: true });
}

const freshness = markdownTable([
  {
    "followers per account": followers!,
    posts: postCount!,
    "readers polled": readerCount!,
    "INSERT → first item of feed.home: p50 ms": fresh["p50 ms"],
    "p99 ms": fresh["p99 ms"],
    "max ms": fresh["max ms"],
    "not within 10 s": late,
    "Cassandra mutations per post": (writes / postCount!).toFixed(1),
    "CPU-ms per post": cpu.text.replace(/^CPU-ms per post: /, ""),
  },
]);
const table = `${freshness}\n\n${markdownTable(pages)}`;
console.log(`\n${table}`);
record(
  "Hybrid fan-out: a post by an account with a million followers, and pages that merge pulled accounts",
  `npm run bench:hybrid -- --followers ${followers} --huge ${huge} --posts ${postCount} --readers ${readerCount} --seconds ${seconds} --connections ${connections}`,
  table,
  `One \`serve\` process (API and workers), with every stack component, on the same machine. The accounts' followers rows were written straight into Cassandra (see bench/hybrid.ts); ` +
    `the readers' follows and every post went through the pipeline. Cassandra mutations are its own per-table local write counts over the posts, whatever wrote them; ` +
    `the readers' polling is the only other load. CPU-ms per post from /proc, the readers' polling included.`,
);
await admin.disconnect();
await services.close();
process.exit(0);

/** Every local write Cassandra has applied to the keyspace's tables since it started (its own counters). */
async function cassandraWrites(s: Services) {
  const rs = await s.cassandra.execute("SELECT count FROM system_views.local_write_latency WHERE keyspace_name = ?", [config.cassandra.keyspace]);
  return rs.rows.reduce((sum, r) => sum + Number(r.count), 0);
}
