/**
 * Feed page reads: cache hits and cache misses through the HTTP API, side by side with the same
 * page computed by fan-out on read in SQL on PostgreSQL. One command:
 *   npm run bench:reads -- [--users 10000] [--activities 1000000] [--reads 20000] [--misses 2000] [--concurrency 32] [--hit-concurrency 4,8,16,32]
 * Seeds the data set (bench/dataset.ts) when it is not there, starts the service, waits for the
 * pipeline to have built every feed, then measures and appends the results to
 * docs/benchmarks.md. Needs the stack up and no service running.
 */
import { parseArgs } from "node:util";
import { datasetCounts, seedDataset } from "./dataset";
import { cpuPerUnit, cpuSeconds, openBench, stackPids, startService, waitForPipeline } from "./pipeline";
import { datasetArgs } from "./seed";
import { markdownTable, record, summarize } from "./support";

const o = datasetArgs();
const { values } = parseArgs({
  args: process.argv.slice(2),
  strict: false,
  options: {
    reads: { type: "string", default: "20000" },
    misses: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "32" },
    "hit-concurrency": { type: "string", default: "4,8,16,32" },
  },
});
const reads = Number(values.reads);
const concurrency = Number(values.concurrency);
const hitConcurrency = String(values["hit-concurrency"]).split(",").filter(Boolean).map(Number);

const { services, admin } = await openBench();
const { sql } = services;

// ---- data set and pipeline ----------------------------------------------------------------------
let counts = await datasetCounts(sql, o.prefix);
if (counts.users === 0) counts = await seedDataset(sql, o);
const users = counts.users;
const activities = counts.follows + counts.posts + counts.likes + counts.comments;
const misses = Math.min(Number(values.misses), users);
const service = await startService();
const like = `${o.prefix}\\_%`;
const [{ id: marker }] = (await sql`select min(id)::text as id from users where handle like ${like}`) as unknown as [{ id: string }];
await waitForPipeline(services, admin, marker, { label: "waiting for every feed to be built" });
await admin.disconnect();
const port = service.port;

// ---- reads ----------------------------------------------------------------------------------------
const sample = (await sql`select id::text as id from users where handle like ${like} order by random() limit ${misses}`).map((r) => r.id as string);
const tokens = new Map(sample.map((id) => [id, services.tokens.mint(id)]));
const url = (input: unknown) => `http://127.0.0.1:${port}/trpc/feed.home?input=${encodeURIComponent(JSON.stringify(input))}`;
async function page(userId: string) {
  const res = await fetch(url({ limit: 20 }), { headers: { authorization: `Bearer ${tokens.get(userId)}` } });
  if (!res.ok) throw new Error(`feed.home answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

const pids = { service: service.pid, ...stackPids() };
async function measure(label: string, total: number, job: (i: number) => Promise<void>, lanes = concurrency) {
  const latencies: number[] = [];
  let next = 0;
  const cpuBefore = cpuSeconds(pids);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < total) {
        const i = next++;
        const s = performance.now();
        await job(i);
        latencies.push(performance.now() - s);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuPerUnit(cpuBefore, cpuSeconds(pids), total, "page");
  console.log(`  ${label}: ${total} in ${seconds.toFixed(1)} s; ${cpu.text}`);
  return { label, concurrency: lanes, ...summarize(latencies), "pages/s": Math.round(total / seconds), "stack CPU-ms/page": cpu.totalMs.toFixed(3) };
}

for (const id of sample) await services.redis.del(...services.feedCache.keys(id));
const miss = await measure("cache miss over HTTP (page from Cassandra, cache rebuilt behind it)", sample.length, (i) => page(sample[i]!));
const hits = [];
for (const lanes of hitConcurrency) hits.push(await measure("cache hit over HTTP", reads, (i) => page(sample[i % sample.length]!), lanes));
const hit = hits.find((h) => h.concurrency === concurrency) ?? hits.at(-1)!;
const baseline = await measure("fan-out on read, SQL on PostgreSQL (no HTTP)", Math.min(reads, 5000), async (i) => {
  await sqlPage(sample[i % sample.length]!);
});

/**
 * The home page as fan-out on read computes it, written the way a careful SQL user would: for the
 * user and each followee, only their newest 21 rows of each activity table (index scans on
 * (actor, created_at desc)), merged, the newest 21 kept.
 */
function sqlPage(userId: string) {
  return sql`
    with actors as (select ${userId}::bigint as id union select followee_id from follows where follower_id = ${userId})
    select a.id, a.verb, a.actor, u.handle, a.created_at, a.object_id, a.excerpt from (
      select x.* from actors, lateral (
        select 'shard:' || p.id as id, 'SHARD' as verb, p.author_id as actor, p.created_at, p.id as object_id, left(p.body, 280) as excerpt
        from posts p where p.author_id = actors.id order by p.created_at desc, p.id desc limit 21) x
      union all select x.* from actors, lateral (
        select 'comment:' || c.id, 'COMMENT', c.author_id, c.created_at, c.post_id, left(c.body, 280)
        from comments c where c.author_id = actors.id order by c.created_at desc, c.id desc limit 21) x
      union all select x.* from actors, lateral (
        select 'like:' || l.user_id || ':' || l.post_id, 'LIKE', l.user_id, l.created_at, l.post_id, null
        from likes l where l.user_id = actors.id order by l.created_at desc limit 21) x
      union all select x.* from actors, lateral (
        select 'follow:' || f.follower_id || ':' || f.followee_id, 'FOLLOW', f.follower_id, f.created_at, f.followee_id, null
        from follows f where f.follower_id = actors.id order by f.created_at desc limit 21) x
    ) a join users u on u.id = a.actor
    order by a.created_at desc, a.id collate "C" desc limit 21`;
}

// Same page both ways: the first page's ids from the API equal the SQL page's, for a sample of users.
let same = 0;
const checked = sample.slice(0, 50);
for (const id of checked) {
  const res = await fetch(url({ limit: 20 }), { headers: { authorization: `Bearer ${tokens.get(id)}` } });
  const body = (await res.json()) as { result: { data: { items: { id: string }[] } } };
  const api = body.result.data.items.map((x) => x.id).join(",");
  const bySql = (await sqlPage(id)).slice(0, 20).map((r) => r.id as string).join(",");
  if (api === bySql) same++;
  else console.warn(`  user ${id}: the API page and the SQL page differ\n    api ${api}\n    sql ${bySql}`);
}
console.log(`  same first page from the API and from SQL for ${same}/${checked.length} users`);

const table = markdownTable([miss, ...hits, baseline]);
console.log(`\n${table}`);
const ratio = (Number(baseline["p50 ms"]) / Number(hit["p50 ms"])).toFixed(1);
const ratio99 = (Number(baseline["p99 ms"]) / Number(hit["p99 ms"])).toFixed(1);
const throughput = (hit["pages/s"] / baseline["pages/s"]).toFixed(1);
record(
  `Feed page reads (limit 20), ${users} users, ${activities} activities`,
  `npm run bench:reads -- --users ${o.users} --activities ${o.activities} --reads ${reads} --misses ${misses} --concurrency ${concurrency} --hit-concurrency ${hitConcurrency.join(",")}`,
  table,
  `Cache hits vs SQL fan-out on read, both at concurrency ${hit.concurrency}: ${ratio}× lower p50 latency, ${ratio99}× lower p99, ${throughput}× the pages/s. ` +
    `The first page was the same from the API and from SQL for ${same} of ${checked.length} users checked. ` +
    `Concurrency = requests in flight from the closed-loop client; the client, the service (API and workers in one process) and every stack component share the 2 cores. ` +
    `The SQL baseline runs straight on PostgreSQL from the benchmark process (no HTTP), which flatters it.`,
);
await service.stop();
await services.close();
process.exit(0);
