/**
 * Inactive users, measured (docs/stream.md, "Inactive users"):
 *   npm run bench:inactive -- [--users 10000] [--follows 20] [--inactive 0.8] [--posts 2000] [--returning 200] [--window 30]
 * - Set-up: `--users` users, each following `--follows` others drawn at random, through the
 *   pipeline, with the service's inactive window set to `--window` seconds (instead of days) so
 *   that the run takes minutes: once the window has passed, the `1 - inactive` share of them read
 *   their first page, and the sweep marks the rest dormant.
 * - Fan-out: `--posts` posts by random users, inserted into PostgreSQL; the feed rows the workers
 *   wrote (their counter) against the rows pure fan-out on write would have written (each post's
 *   author and every follower, from PostgreSQL), and CPU-ms per post of every process.
 * - Returning users: `--returning` dormant users read their first page (limit 20) over HTTP, one
 *   at a time: latency p50/p99/max, each page checked against the SQL oracle's first 20; then the
 *   time until every one of their feeds is caught up, and a cache miss of an active user, one at a
 *   time, as the yardstick.
 * Needs the stack up and no service running.
 */
import { parseArgs } from "node:util";
import { homeOracle } from "./oracle";
import { createDormancy } from "../src/feeds/dormancy";
import { sweepInactive } from "../src/fanout/inactive";
import { cacheKeys } from "../src/feeds/cache-keys";
import { cpuPerUnit, cpuSeconds, openBench, stackPids, startService, waitForPipeline } from "./pipeline";
import { markdownTable, record, statusLine, summarize } from "./support";

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "10000" },
    follows: { type: "string", default: "20" },
    inactive: { type: "string", default: "0.8" },
    posts: { type: "string", default: "2000" },
    returning: { type: "string", default: "200" },
    window: { type: "string", default: "30" },
  },
});
const [userCount, follows, share, postCount, returningCount, windowSeconds] = ["users", "follows", "inactive", "posts", "returning", "window"].map((k) => Number(values[k as keyof typeof values]));
if (!(userCount! > 0 && follows! > 0 && share! >= 0 && share! < 1 && postCount! > 0 && returningCount! > 0 && windowSeconds! > 0)) throw new Error("--inactive takes a share in [0, 1); every other option a positive number");
const windowMs = windowSeconds! * 1000;

const { services, admin } = await openBench();
const { sql, redis } = services;
const dormancy = createDormancy({ redis, windowMs });
const service = await startService({ env: { FEEDLINE_INACTIVE_DAYS: String(windowMs / 86_400_000) } });
const base = `http://127.0.0.1:${service.port}/trpc`;
const homeUrl = `${base}/feed.home?input=${encodeURIComponent(JSON.stringify({ limit: 20 }))}`;
const firstPage = async (userId: string) => {
  const t0 = performance.now();
  const res = await fetch(homeUrl, { headers: { authorization: `Bearer ${services.tokens.mint(userId)}` } });
  const body = (await res.json()) as { result?: { data: { items: { id: string }[] } } };
  if (!body.result) throw new Error(`feed.home of ${userId} answered ${res.status}: ${JSON.stringify(body)}`);
  return { ms: performance.now() - t0, ids: body.result.data.items.map((i) => i.id) };
};

// ---- set-up ------------------------------------------------------------------------------------
const tag = `in${Date.now().toString(36)}`;
const users = (await sql`insert into users (handle) select ${`${tag}_`} || g from generate_series(1, ${userCount!}) g returning id::text as id`).map((r) => r.id as string);
await sql`
  insert into follows (follower_id, followee_id)
  select distinct f, t from (
    select f, (${users}::bigint[])[1 + floor(random() * ${userCount!})::int] as t from unnest(${users}::bigint[]) f, generate_series(1, ${follows!})
  ) drawn where f <> t
  on conflict do nothing`;
await waitForPipeline(services, admin, users[0]!, { label: "waiting for the users and their follows" });
const shuffled = [...users].sort(() => Math.random() - 0.5);
const asleep = shuffled.slice(0, Math.round(userCount! * share!));
const awake = shuffled.slice(asleep.length);
await sweepInactive({ ...services, dormancy }); // starts keeping time, if this is the first sweep
const waiting = statusLine();
for (const end = Date.now() + windowMs + 1000; Date.now() < end; await Bun.sleep(1000)) waiting.update(`waiting out the ${windowSeconds} s window: ${Math.ceil((end - Date.now()) / 1000)} s`);
waiting.done();
for (const u of awake) await dormancy.seen(u);
const swept = await sweepInactive({ ...services, dormancy });
const marked = (await Promise.all(asleep.map((u) => dormancy.behind(u)))).filter(Boolean).length;
console.log(`sweep: ${swept.users} users read, ${swept.marked} marked dormant; ${marked} of the ${asleep.length} meant to be are`);

// ---- fan-out -------------------------------------------------------------------------------------
const pids = { service: service.pid, ...stackPids() };
const writesBefore = (await service.metrics()).sum("feedline_fanout_writes_total");
const cpuBefore = cpuSeconds(pids);
const authors = Array.from({ length: postCount! }, () => users[Math.floor(Math.random() * users.length)]!);
await sql`insert into posts (author_id, body) select a, 'a post of the inactive-users benchmark' from unnest(${authors}::bigint[]) a`;
await waitForPipeline(services, admin, awake[0]!, { label: "fanning the posts out" });
const written = (await service.metrics()).sum("feedline_fanout_writes_total") - writesBefore;
const cpu = cpuPerUnit(cpuBefore, cpuSeconds(pids), postCount!, "post");
const [{ pure }] = (await sql`
  select coalesce(sum(1 + (select count(*) from follows where followee_id = a)), 0)::int as pure from unnest(${authors}::bigint[]) a`) as unknown as [{ pure: number }];

// ---- returning users ---------------------------------------------------------------------------------
const returning = asleep.slice(0, returningCount!);
const latencies: number[] = [];
let wrong = 0;
const line = statusLine();
for (const [i, u] of returning.entries()) {
  const page = await firstPage(u);
  latencies.push(page.ms);
  if (JSON.stringify(page.ids) !== JSON.stringify((await homeOracle(sql, u)).slice(0, 20))) wrong++;
  line.update(`returning user ${i + 1}/${returning.length}: ${page.ms.toFixed(1)} ms`);
}
line.done();
const caughtUpFrom = performance.now();
while ((await Promise.all(returning.map((u) => dormancy.behind(u)))).some(Boolean) && performance.now() - caughtUpFrom < 300_000) await Bun.sleep(250);
const caughtUp = (performance.now() - caughtUpFrom) / 1000;
// The yardstick: a cache miss of an active user, one at a time, in the same run.
const misses: number[] = [];
for (const u of awake.slice(0, returningCount!)) {
  await redis.del(...cacheKeys(u));
  misses.push((await firstPage(u)).ms);
}
await service.stop();

const back = summarize(latencies);
const miss = summarize(misses);
const table = markdownTable([
  {
    users: userCount!,
    "inactive share": share!,
    posts: postCount!,
    "feed rows written": written,
    "pure fan-out on write": pure,
    "rows saved": `${(100 * (1 - written / pure)).toFixed(1)}%`,
    "CPU-ms per post": cpu.text.replace(/^CPU-ms per post: /, ""),
  },
]);
const pages = markdownTable([
  { "first page (limit 20), one at a time": `returning dormant users (${returning.length})`, "p50 ms": back["p50 ms"], "p99 ms": back["p99 ms"], "max ms": back["max ms"], "pages not the oracle's first 20": wrong },
  { "first page (limit 20), one at a time": `cache misses of active users (${misses.length})`, "p50 ms": miss["p50 ms"], "p99 ms": miss["p99 ms"], "max ms": miss["max ms"], "pages not the oracle's first 20": "-" },
]);
const tables = `${table}\n\n${pages}\n\nEvery returning user's feed caught up ${caughtUp.toFixed(1)} s after the last of their first pages.`;
console.log(`\n${tables}`);
record(
  "Inactive users: fan-out rows saved, and a returning user's first page",
  `npm run bench:inactive -- --users ${userCount} --follows ${follows} --inactive ${share} --posts ${postCount} --returning ${returningCount} --window ${windowSeconds}`,
  tables,
  `One \`serve\` process (API and workers) with the inactive window at ${windowSeconds} s instead of days, and every stack component, on the same machine. ` +
    `Users follow ${follows} others drawn at random; ${marked} of them were marked dormant by the sweep. Rows written from the workers' counter; pure fan-out from PostgreSQL (each post's author and followers). ` +
    `A returning user's page is merged from their sources (one Cassandra read per followee, handles from the object cache) while their feed is completed behind it.`,
);
await admin.disconnect();
await services.close();
process.exit(0);
