/**
 * Reads over HTTP with wrk, against one `serve --role api` process, with redis-benchmark in the
 * same run as the yardstick:
 *   npm run bench:http -- [--seconds 10] [--connections 32] [--misses 2000] [--lone 200] [--warm 300]
 *                         [--phases hits,user,lone,storm] [--profile <dir>]
 * - hits: `feed.home` (limit 20) of a reader whose cache is warm (500 items), wrk -t2 -c32;
 *   redis-benchmark ZREVRANGE 0 19 WITHSCORES of that cache in the same run, and the ratio.
 * - user: `feed.user` (limit 20) of an author with 500 activities, read from Cassandra.
 * - lone: cache misses one at a time (wrk -t1 -c1), each a different user whose cache is gone,
 *   in two rows: the API process's first `--warm` misses (its JIT still compiling the miss path:
 *   users of the storm's set, whose caches the storm deletes again), then `--lone` more.
 * - storm: `--misses` distinct users at once (wrk -t2 -c32), each a miss.
 * - layers: where a cache hit's CPU goes, in this process rather than over HTTP: the same page
 *   `--layers` times (32 at a time) as the procedure's own work (reader and cursor), as a tRPC
 *   call without HTTP (createCaller: middleware, zod, the rate limit), and as a whole request
 *   through the app (Hono and tRPC's fetch adapter); CPU-µs per page of this process, each layer
 *   the difference from the one before.
 * A miss phase also waits for the upkeeps its first reads queued (src/fanout/upkeep.ts) and
 * reports the CPU-ms per page with them. Misses use users whose handles start with `--prefix` and "_" when there are enough (the
 * `npm run seed` data set's, or an earlier run's with `--prefix h<time>_m`), else users made here who
 * each follow one author of N (FEEDLINE_FEED_LENGTH) posts, so that every feed is full (made only
 * for the miss phases; a `--prefix` given with too few users is an error, not new users). Every phase reports CPU-ms per page of
 * the API process and each process of the stack (from /proc). `--profile` writes a Bun CPU profile of the
 * API process over the phases run, summarised. Needs the stack up, wrk, and no service running.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { cacheKeys } from "../src/feeds/cache-keys";
import { cacheScripts } from "../src/feeds/cache-scripts";
import { createApp, requestContext } from "../src/app";
import { createCaller } from "../src/api";
import { paginate } from "../src/api/cursor";
import { positionOf } from "../src/model/feed";
import { inParallel } from "../src/parallel";
import { bunProfileArgs, bunProfiles, head } from "./profile";
import { cpuPerUnit, cpuSeconds, openBench, stackPids, startService, waitForPipeline } from "./pipeline";
import { markdownTable, record, redisBenchmark, statusLine, wrk, wrkUntil, type WrkResult } from "./support";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "32" },
    misses: { type: "string", default: "2000" },
    lone: { type: "string", default: "200" },
    warm: { type: "string", default: "300" },
    phases: { type: "string", default: "hits,user,lone,storm,layers" },
    layers: { type: "string", default: "20000" },
    profile: { type: "string" },
    prefix: { type: "string", default: "bench" },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const misses = Number(values.misses);
const lone = Number(values.lone);
const warm = Number(values.warm);
const phases = new Set(values.phases!.split(","));
const known = ["hits", "user", "lone", "storm", "layers"];
const unknown = [...phases].filter((p) => !known.includes(p));
if (unknown.length) throw new Error(`unknown phase ${unknown.join(", ")}: choose from ${known.join(", ")}`);

const { config, services, admin } = await openBench();
const { sql, redis } = services;
const scratch = `/tmp/feedline-bench-http-${process.pid}`;
mkdirSync(scratch, { recursive: true });

// ---- data --------------------------------------------------------------------------------------
const tag = `h${Date.now().toString(36)}`;
const newUsers = async (n: number, what: string) =>
  (await sql`insert into users (handle) select ${`${tag}_${what}_`} || g from generate_series(1, ${n}) g returning id::text as id`).map((r) => r.id as string);
const posts = (author: string, n: number) =>
  sql`insert into posts (author_id, body, created_at)
      select ${author}, 'post ' || g || ' of a benchmark author, long enough to look like a real one', now() - make_interval(secs => g)
      from generate_series(1, ${n}) g`;
const like = `${values.prefix}\\_%`;
let missUsers = (await sql`select id::text as id from users where handle like ${like} order by random() limit ${misses + lone}`).map((r) => r.id as string);
const fromDataset = missUsers.length === misses + lone;
// Users asked for by name but too few of them: making new ones instead means a full feed each
// (N fan-out writes per user, about a million for the default phases), which is never what was meant.
const missPhases = phases.has("lone") || phases.has("storm");
if (!fromDataset && values.prefix !== "bench" && missPhases) {
  throw new Error(`only ${missUsers.length} users' handles start with "${values.prefix}_", and --misses ${misses} --lone ${lone} needs ${misses + lone}: ask for fewer, or leave out --prefix to make new users`);
}
const [author, reader, missAuthor] = await newUsers(3, "x");
await posts(author!, 500);
await sql`insert into follows (follower_id, followee_id) values (${reader!}, ${author!})`;
if (!fromDataset && missPhases) {
  await posts(missAuthor!, config.feed.length); // a full feed for each of its followers, as a data-set user's
  missUsers = await newUsers(misses + lone, "m");
  await sql`insert into follows (follower_id, followee_id) select unnest(${missUsers}::bigint[]), ${missAuthor!}`;
}
const [loneUsers, stormUsers] = [missUsers.slice(0, lone), missUsers.slice(lone)];

// The workers build the feeds, then stop: only the API process runs while it is measured.
const worker = await startService({ role: "worker" });
await waitForPipeline(services, admin, reader!, { label: "waiting for the feeds to be built" });
await worker.stop();
await admin.disconnect();

const api = await startService({ role: "api", runtimeArgs: values.profile ? bunProfileArgs(values.profile, "api") : [] });
const base = `http://127.0.0.1:${api.port}/trpc`;
const homeUrl = `${base}/feed.home?input=${encodeURIComponent(JSON.stringify({ limit: 20 }))}`;
const userUrl = `${base}/feed.user?input=${encodeURIComponent(JSON.stringify({ userId: author, limit: 20 }))}`;
const pids = { api: api.pid, ...stackPids() };

/** A wrk script sending each request with the next token of `tokens` (spread over the threads), stopping a thread when its share is used. */
function tokenScript(name: string, tokens: string[], threads: number) {
  const file = `${scratch}/${name}.lua`;
  writeFileSync(
    file,
    `local tokens = {${tokens.map((t) => JSON.stringify(t)).join(",")}}
local threads, made = ${threads}, 0
function setup(thread) thread:set("id", made); made = made + 1 end
local i = nil
function request()
  i = (i or id + 1 - threads) + threads
  if i > #tokens then wrk.thread:stop(); i = #tokens end
  return wrk.format("GET", nil, { ["authorization"] = "Bearer " .. tokens[i] })
end
`,
  );
  return file;
}

const rows: Record<string, string | number>[] = [];
function row(phase: string, client: string, r: WrkResult, cpu: ReturnType<typeof cpuPerUnit>, extra: Record<string, string> = {}) {
  rows.push({
    phase,
    client,
    "pages/s": Math.round(r.perSecond),
    "p50 ms": r.p50.toFixed(2),
    "p99 ms": r.p99.toFixed(2),
    errors: r.errors,
    ...extra,
    "CPU-ms/page": cpu.text.replace(/^CPU-ms per page: /, ""),
  });
  console.log(`  ${phase}: ${Math.round(r.perSecond)} pages/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${r.errors} errors; ${cpu.text}`);
}
/** wrk (a run to its duration, or `wrkUntil`) with CPU read from /proc around it, for the API and every process of the stack (`before`: the snapshot it started from). */
async function measured(run: () => WrkResult | Promise<WrkResult>) {
  const before = cpuSeconds(pids);
  const r = await run();
  return { r, cpu: cpuPerUnit(before, cpuSeconds(pids), r.requests, "page"), before };
}
/** Home pages the API has served from Cassandra (misses), from its /metrics. */
const missesServed = async () => (await api.metrics()).sum("feedline_feed_reads_total", { source: "cassandra" });
const dropCaches = async (users: string[]) => {
  for (let i = 0; i < users.length; i += 500) await redis.del(...users.slice(i, i + 500).flatMap((u) => cacheKeys(u)));
};

let yardstick = "";
let layers = "";
try {
  if (phases.has("hits")) {
    const token = services.tokens.mint(reader!);
    const script = `${scratch}/hits.lua`;
    writeFileSync(script, `wrk.headers["authorization"] = "Bearer ${token}"\n`);
    // Warm: the first read misses and rebuilds the cache behind it.
    const warm = statusLine();
    for (let i = 0; (await redis.hget(cacheKeys(reader!)[1], "__state")) !== "ready"; i++) {
      if (i > 100) throw new Error("the reader's cache was not rebuilt");
      await fetch(homeUrl, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.arrayBuffer());
      warm.update("warming the reader's cache");
      await Bun.sleep(100);
    }
    warm.done();
    wrk(homeUrl, { threads: 2, connections, seconds: 2, script }); // JIT and connections warm
    const { r, cpu } = await measured(() => wrk(homeUrl, { threads: 2, connections, seconds, script }));
    const [zset, hash] = cacheKeys(reader!).map((k) => `${config.redis.keyPrefix}${k}`) as [string, string];
    const yard = redisBenchmark(config.redis.port, ["zrevrange", zset, "0", "19", "WITHSCORES"], { clients: connections, requests: 200_000 });
    // The page script alone on the same cache: how many pages one Redis could serve, whatever the API does.
    const sha = (await redis.call("SCRIPT", "LOAD", cacheScripts.feedPage!.lua)) as string;
    const alone = redisBenchmark(config.redis.port, ["EVALSHA", sha, "2", zset, hash, String(config.feed.cacheTtlSeconds), "21", "", ""], { clients: connections, requests: 100_000 });
    yardstick =
      `redis-benchmark -c ${connections} ZREVRANGE 0 19 WITHSCORES of the same cache, right after: ${Math.round(yard.perSecond)} ops/s (${yard.line}). ` +
      `The page script alone (EVALSHA feedPage, limit 21): ${Math.round(alone.perSecond)} ops/s.`;
    row("feed.home cache hits", `wrk -t2 -c${connections} -d${seconds}s`, r, cpu, { "vs redis-benchmark": `${((100 * r.perSecond) / yard.perSecond).toFixed(1)}%` });
  }
  if (phases.has("user")) {
    wrk(userUrl, { threads: 2, connections, seconds: 2 });
    const { r, cpu } = await measured(() => wrk(userUrl, { threads: 2, connections, seconds }));
    row("feed.user (Cassandra)", `wrk -t2 -c${connections} -d${seconds}s`, r, cpu);
  }
  for (const [phase, label, users, threads, lanes] of [
    ["lone", `feed.home lone misses, the API process's first ${warm}`, stormUsers.slice(0, warm), 1, 1],
    ["lone", `feed.home lone misses, the next ${lone}`, loneUsers, 1, 1],
    ["storm", `feed.home miss storm (${stormUsers.length} users)`, stormUsers, 2, connections],
  ] as const) {
    if (users.length === 0) continue;
    if (!phases.has(phase)) continue;
    await dropCaches(users);
    const script = tokenScript(phase, users.map((u) => services.tokens.mint(u)), threads);
    // Each user once: the threads stop when their shares are used, and wrk once every miss is served.
    const before = await missesServed();
    // Done when every user's miss is served, or when none has been for 3 s (should a user's cache have come back meanwhile).
    const startedAt = performance.now();
    let [last, lastAt, still] = [before, startedAt, 0];
    const done = async () => {
      const served = await missesServed();
      if (served !== last) [last, lastAt, still] = [served, performance.now(), 0];
      else still++;
      return served - before >= users.length || still >= 30;
    };
    const { r, cpu, before: cpuBefore } = await measured(() => wrkUntil(homeUrl, { threads, connections: lanes, maxSeconds: 600, script }, done));
    // The rate over the time misses were served (to 0.1 s), not wrk's, which includes any wait for a stall.
    r.perSecond = (last - before) / Math.max((lastAt - startedAt) / 1000, 0.1);
    // A first read of the day queues its feed's upkeep (the trim past 2N), which runs behind the
    // pages: its cost belongs to the misses too, so it is waited for and counted in a column of its own.
    const drainStarted = performance.now();
    while ((await api.metrics()).sum("feedline_upkeep_pending") > 0 && performance.now() - drainStarted < 600_000) await Bun.sleep(250);
    const withUpkeep = cpuPerUnit(cpuBefore, cpuSeconds(pids), r.requests, "page");
    row(label, `wrk -t${threads} -c${lanes}, one request per user`, r, cpu, {
      "upkeep after, s": ((performance.now() - drainStarted) / 1000).toFixed(1),
      "CPU-ms/page with upkeep": withUpkeep.totalMs.toFixed(2),
    });
  }
  if (phases.has("layers")) layers = await measureLayers(Number(values.layers));
} finally {
  await api.stop();
  rmSync(scratch, { recursive: true, force: true });
}

/**
 * A cache hit's CPU in this process, layer by layer (the reader's cache is warm: the hits phase,
 * or the first calls here, warmed it): each way of getting the same page, `n` times, 32 at a time.
 */
async function measureLayers(n: number) {
  const token = services.tokens.mint(reader!);
  const headers = new Headers({ authorization: `Bearer ${token}` });
  const app = createApp(services);
  // What Bun.serve passes the app: the client's address comes from it, as in the service.
  const server = { requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 40000 }) };
  const feed = `home:${reader}`;
  const ways: [string, () => Promise<unknown>][] = [
    ["the procedure's own work (reader.home, cursor)", async () => paginate(await services.reader.home(reader!, 21), 20, (i) => services.cursors.encode(feed, positionOf(i)))],
    ["+ tRPC's call (middleware, zod, rate limit): createCaller", () => createCaller(requestContext(services, headers)).feed.home({ limit: 20 })],
    ["+ HTTP (Hono, tRPC's fetch adapter, JSON): app.fetch", async () => (await app.fetch(new Request(homeUrl, { headers }), server)).text()],
  ];
  const out: Record<string, string | number>[] = [];
  let below = 0;
  for (const [layer, call] of ways) {
    await inParallel(Array.from({ length: 2_000 }), 32, async () => void (await call())); // warm
    const cpu = process.cpuUsage();
    const started = performance.now();
    await inParallel(Array.from({ length: n }), 32, async () => void (await call()));
    const spent = process.cpuUsage(cpu);
    const us = (spent.user + spent.system) / n;
    out.push({ layer, "pages/s in this process": Math.round(n / ((performance.now() - started) / 1000)), "CPU-µs/page": us.toFixed(1), "this layer, µs": (us - below).toFixed(1) });
    console.log(`  ${layer}: ${us.toFixed(1)} CPU-µs per page`);
    below = us;
  }
  return markdownTable(out);
}

const table = [rows.length > 0 && markdownTable(rows), layers && `Where a cache hit's CPU goes in the API process (\`layers\`, in the benchmark's own process, ${values.layers} pages each, 32 at a time; Redis's CPU is not in these figures):\n\n${layers}`].filter(Boolean).join("\n\n");
console.log(`\n${table}\n${yardstick}`);
if (values.profile) for (const summary of bunProfiles(values.profile)) console.log(`\n${head(summary, 60)}`);
record(
  "Reads over HTTP: cache hits, profile pages and cache misses, with redis-benchmark",
  `npm run bench:http -- --seconds ${seconds} --connections ${connections} --misses ${misses} --lone ${lone} --warm ${warm} --phases ${[...phases].join(",")}${values.prefix === "bench" ? "" : ` --prefix ${values.prefix}`}${values.profile ? ` --profile ${values.profile}` : ""}`,
  table,
  `One \`serve --role api\` process${values.profile ? ", under Bun's CPU profiler (which slows it)" : ""}; wrk and every stack component share the machine. ${yardstick} ` +
    (phases.has("lone") || phases.has("storm") ? `Misses: ${fromDataset ? `${misses + lone} users whose handles start with "${values.prefix}_" (the \`npm run seed\` data set's, or those an earlier run made, "h<time>_m_<n>"), caches deleted first` : `users made for the run, each following one author of ${config.feed.length} posts, caches deleted first`}; ` +
    "a miss is served from Cassandra and rebuilds the cache behind it. " : "") +
    "CPU-ms per page from /proc, for the API process and each process of the stack.",
);
await services.close();
process.exit(0);
