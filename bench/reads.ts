/**
 * Feed page reads: cache hits and cache misses through the HTTP API, side by side with the same
 * page computed by fan-out on read in SQL on PostgreSQL. One command:
 *   npm run bench:reads -- [--users 10000] [--activities 1000000] [--reads 20000] [--concurrency 32]
 * Seeds the data set into PostgreSQL when it is not there (users bench_<n>, a power-law follow
 * graph, posts/likes/comments), waits for the pipeline to build every feed, then measures and
 * appends the results to docs/benchmarks.md. Needs the stack up (`npm run stack -- up`).
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config";
import { createServices } from "../src/services";
import { consumerLag } from "../src/stream/lag";
import { freePort } from "../deploy/stack/proc";
import { markdownTable, record, summarize } from "./support";

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "10000" },
    activities: { type: "string", default: "1000000" },
    reads: { type: "string", default: "20000" },
    misses: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "32" },
  },
});
const users = Number(values.users);
const activities = Number(values.activities);
const reads = Number(values.reads);
const misses = Math.min(Number(values.misses), users);
const concurrency = Number(values.concurrency);

const config = loadConfig();
const services = await createServices(config);
const { sql } = services;

// ---- data set -------------------------------------------------------------------------------
const [{ n: present }] = (await sql`select count(*)::int as n from users where handle like 'bench\\_%'`) as unknown as [{ n: number }];
if (present < users) {
  console.log(`seeding ${users} users and ${activities} activities into PostgreSQL (one transaction: all or nothing)…`);
  const t0 = performance.now();
  await sql.begin(async (sql) => {
  await sql`insert into users (handle) select 'bench_' || g from generate_series(${present + 1}::int, ${users}::int) g on conflict do nothing`;
  const [{ lo, hi }] = (await sql`select min(id)::bigint as lo, max(id)::bigint as hi from users where handle like 'bench\\_%'`) as unknown as [{ lo: string; hi: string }];
  // Power law: popularity of user i ~ rank^-k, by drawing followees as lo + n·u³ (u uniform).
  await sql`
    insert into follows (follower_id, followee_id)
    select f, e from (
      select f, ${lo}::bigint + floor((${hi}::bigint - ${lo}::bigint) * power(random(), 3))::bigint as e
      from (select generate_series(${lo}::bigint, ${hi}::bigint) f) u, generate_series(1, 20)
    ) x where f <> e
    on conflict do nothing`;
  const posts = Math.round(activities * 0.6);
  const likes = Math.round(activities * 0.3);
  const comments = activities - posts - likes;
  for (let done = 0; done < posts; done += 100_000) {
    await sql`
      insert into posts (author_id, body, created_at)
      select ${lo}::bigint + floor((${hi}::bigint - ${lo}::bigint) * power(random(), 2))::bigint,
             'bench post ' || g, now() - random() * interval '7 days'
      from generate_series(1, ${Math.min(100_000, posts - done)}::int) g`;
    process.stdout.write(`\r  posts ${Math.min(done + 100_000, posts)}/${posts}`);
  }
  const [{ plo, phi }] = (await sql`select min(id)::bigint as plo, max(id)::bigint as phi from posts where body like 'bench post %'`) as unknown as [{ plo: string; phi: string }];
  await sql`
    insert into likes (user_id, post_id, created_at)
    select u, p, now() - random() * interval '7 days' from (
      select ${lo}::bigint + floor((${hi}::bigint - ${lo}::bigint) * random())::bigint as u,
             ${plo}::bigint + floor((${phi}::bigint - ${plo}::bigint) * power(random(), 2))::bigint as p
      from generate_series(1, ${likes}::int)) x
    where exists (select 1 from posts where id = p)
    on conflict do nothing`;
  await sql`
    insert into comments (post_id, author_id, body, created_at)
    select p, a, 'bench comment', now() - random() * interval '7 days' from (
      select ${plo}::bigint + floor((${phi}::bigint - ${plo}::bigint) * random())::bigint as p,
             ${lo}::bigint + floor((${hi}::bigint - ${lo}::bigint) * random())::bigint as a
      from generate_series(1, ${comments}::int)) x
    where exists (select 1 from posts where id = p)`;
  });
  console.log(`\n  seeded in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

// ---- wait for the pipeline ----------------------------------------------------------------------
const admin = services.kafka.admin();
await admin.connect();
const lag = async () => (await consumerLag(admin, config)).reduce((sum, r) => sum + r.lag, 0);
const port = await freePort();
const server = spawn(process.execPath, [resolve(import.meta.dir, "../src/main.ts"), "serve"], {
  env: { ...process.env, FEEDLINE_API_PORT: String(port), KAFKAJS_NO_PARTITIONER_WARNING: "1" },
  stdio: ["ignore", "ignore", "inherit"],
});
process.on("exit", () => server.kill());
console.log("waiting for the pipeline to build every feed (API and workers in one process)…");
const buildStart = performance.now();
for (let quiet = 0; quiet < 3; ) {
  await Bun.sleep(2000);
  const l = await lag().catch(() => Number.NaN);
  quiet = l === 0 ? quiet + 1 : 0;
  process.stdout.write(`\r  consumer lag ${l}    `);
}
console.log(`\n  feeds built in ${((performance.now() - buildStart) / 1000).toFixed(0)} s`);
await admin.disconnect();

// ---- reads ----------------------------------------------------------------------------------------
const sample = (await sql`select id::text as id from users where handle like 'bench\\_%' order by random() limit ${misses}`).map((r) => r.id as string);
const tokens = new Map(sample.map((id) => [id, services.tokens.mint(id)]));
const url = (input: unknown) => `http://127.0.0.1:${port}/trpc/feed.home?input=${encodeURIComponent(JSON.stringify(input))}`;
async function page(userId: string) {
  const res = await fetch(url({ limit: 20 }), { headers: { authorization: `Bearer ${tokens.get(userId)}` } });
  if (!res.ok) throw new Error(`feed.home answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

async function measure(label: string, total: number, job: (i: number) => Promise<void>) {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const s = performance.now();
        await job(i);
        latencies.push(performance.now() - s);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  console.log(`  ${label}: ${total} in ${seconds.toFixed(1)} s`);
  return { label, ...summarize(latencies), "pages/s": Math.round(total / seconds) };
}

for (const id of sample) await services.redis.del(...services.feedCache.keys(id));
const miss = await measure("cache miss (rebuild from Cassandra) over HTTP", sample.length, (i) => page(sample[i]!));
const hit = await measure("cache hit over HTTP", reads, (i) => page(sample[i % sample.length]!));
const baseline = await measure("fan-out on read, SQL on PostgreSQL (no HTTP)", Math.min(reads, 5000), async (i) => {
  await sql`
    with actors as (select ${sample[i % sample.length]!}::bigint as id union select followee_id from follows where follower_id = ${sample[i % sample.length]!})
    select a.*, u.handle from (
      select 'shard:' || p.id as id, 'SHARD' as verb, p.author_id as actor, p.created_at, p.id as object_id, left(p.body, 280) as excerpt
        from posts p where p.author_id in (select id from actors)
      union all select 'comment:' || c.id, 'COMMENT', c.author_id, c.created_at, c.post_id, left(c.body, 280)
        from comments c where c.author_id in (select id from actors)
      union all select 'like:' || l.user_id || ':' || l.post_id, 'LIKE', l.user_id, l.created_at, l.post_id, null
        from likes l where l.user_id in (select id from actors)
      union all select 'follow:' || f.follower_id || ':' || f.followee_id, 'FOLLOW', f.follower_id, f.created_at, f.followee_id, null
        from follows f where f.follower_id in (select id from actors)
    ) a join users u on u.id = a.actor
    order by a.created_at desc, a.id desc limit 21`;
});

const table = markdownTable([miss, hit, baseline]);
console.log(`\n${table}`);
const ratio = (Number(baseline["p50 ms"]) / Number(hit["p50 ms"])).toFixed(1);
const throughput = (hit["pages/s"] / baseline["pages/s"]).toFixed(1);
record(
  `Feed page reads (limit 20), ${users} users, ${activities} activities`,
  `npm run bench:reads -- --users ${users} --activities ${activities} --reads ${reads} --misses ${misses} --concurrency ${concurrency}`,
  table,
  `Cache hits vs SQL fan-out on read: ${ratio}× lower p50 latency, ${throughput}× the pages/s. ` +
    `Concurrency ${concurrency}; the client, the service (API and workers in one process) and every stack component share the 2 cores. ` +
    `The SQL baseline runs straight on PostgreSQL from the benchmark process (no HTTP), which flatters it.`,
);
server.kill();
await services.close();
process.exit(0);
