/**
 * Live subscribers held by one API process:
 *   npm run bench:live -- [--subscribers 10000] [--followers <n>] [--posts 5] [--gap 3] [--idle 20] [--concurrency 100] [--profile <dir>]
 * `--subscribers` users each follow one author and hold a `feed.onItem` stream (server-sent
 * events, over plain sockets: a tRPC client per stream would measure the client) against one
 * `serve --role api` process; the workers run as a process of their own. With `--followers`
 * (default: as many as subscribers) the author has that many followers, of whom the subscribers
 * are spread evenly. Reported:
 * - how fast the streams open, and the API's memory per open stream (its RSS before and after, from /proc);
 * - the API's CPU while they are idle (registrations and pings only: measured once the upkeeps
 *   their first reads queued are done), as a share of a core;
 * - then `--posts` posts by the author, `--gap` s apart: the time from each post's INSERT
 *   committing to its arrival on each stream (p50, p99, max over every stream and post), the
 *   deliveries missing after 30 s, and CPU-ms per post for each process;
 * - streams the server closed during the run (none should be).
 * `--profile` writes Bun CPU profiles of the API and worker processes over the whole run, summarised.
 * Needs the stack up and no service running.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { bunProfileArgs, bunProfiles, head } from "./profile";
import { cpuPerUnit, cpuSeconds, cpuShare, openBench, stackPids, startService, waitForPipeline } from "./pipeline";
import { markdownTable, progressBar, record, statusLine, summarize } from "./support";
import { openSse } from "./sse";

const { values } = parseArgs({
  options: {
    subscribers: { type: "string", default: "10000" },
    followers: { type: "string" },
    posts: { type: "string", default: "5" },
    gap: { type: "string", default: "3" },
    idle: { type: "string", default: "20" },
    concurrency: { type: "string", default: "100" },
    profile: { type: "string" },
  },
});
const subscribers = Number(values.subscribers);
const followerCount = Number(values.followers ?? subscribers);
if (!(followerCount >= subscribers)) throw new Error("--followers must be at least --subscribers");
const postCount = Number(values.posts);
const gapMs = Number(values.gap) * 1000;
const idleSeconds = Number(values.idle);
const concurrency = Number(values.concurrency);

const { services, admin } = await openBench();
const { sql, redis } = services;

// ---- data: one author, followed by every subscriber --------------------------------------------
const tag = `l${Date.now().toString(36)}`;
const [author] = (await sql`insert into users (handle) values (${`${tag}_author`}) returning id::text as id`).map((r) => r.id as string);
const followers = (await sql`insert into users (handle) select ${`${tag}_fan_`} || g from generate_series(1, ${followerCount}) g returning id::text as id`).map((r) => r.id as string);
await sql`insert into follows (follower_id, followee_id) select unnest(${followers}::bigint[]), ${author!}`;
const fans = Array.from({ length: subscribers }, (_, i) => followers[Math.floor((i * followerCount) / subscribers)]!); // the ones who listen

const profiled = (name: string) => (values.profile ? bunProfileArgs(values.profile, name) : []);
const worker = await startService({ role: "worker", runtimeArgs: profiled("worker") });
await waitForPipeline(services, admin, author!, { label: "waiting for the follows to be applied" });
await admin.disconnect();
const api = await startService({ role: "api", runtimeArgs: profiled("api") });
const pids = { api: api.pid, worker: worker.pid, ...stackPids() };

/** A process's resident memory in bytes (VmRSS, from /proc). */
const rss = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? Number.NaN) * 1024;

// ---- the streams ------------------------------------------------------------------------------
const marker = new RegExp(`~${tag}\\.(\\d+)~`, "g");
/** Arrival time of post k on stream i: arrivals[k][i] (NaN until it arrives). */
const arrivals = Array.from({ length: postCount }, () => new Float64Array(subscribers).fill(Number.NaN));
let closedByServer = 0;
let closing = false;
const sockets: { end(): void }[] = [];
const path = `/trpc/feed.onItem?input=${encodeURIComponent(JSON.stringify({}))}`;

/** Opens stream `i` with the user's token; resolves once the response's head has arrived (the subscription is registered by then). */
async function openStream(i: number, token: string) {
  const socket = await openSse({
    port: api.port,
    path,
    token,
    onText(text, now) {
      for (const m of text.matchAll(marker)) {
        const row = arrivals[Number(m[1])];
        if (row && Number.isNaN(row[i]!)) row[i] = now;
      }
    },
    onClose() {
      if (!closing) closedByServer++;
    },
  });
  sockets.push(socket);
}

let openSeconds = 0;
let perStream = Number.NaN;
let idleShare: Record<string, string> = {};
const written: number[] = [];
let cpu = { totalMs: Number.NaN, text: "" };
const missing = () => arrivals.reduce((n, row) => n + row.filter(Number.isNaN).length, 0);
try {
  const rssBefore = rss(api.pid);
  const opening = progressBar("opening streams", subscribers);
  for (let next = 0; next < subscribers; ) {
    const batch = fans.slice(next, next + concurrency);
    await Promise.all(batch.map((u, j) => openStream(next + j, services.tokens.mint(u))));
    next += batch.length;
    opening.tick(batch.length);
  }
  openSeconds = opening.finish();
  const registered = (await services.live.listening(fans.slice(0, 1000))).length;
  if (registered < Math.min(1000, subscribers)) throw new Error(`only ${registered} of the first 1000 streams are registered in feed:live`);
  await Bun.sleep(2000); // let the opening settle before the memory is read
  const rssOpen = rss(api.pid);
  perStream = (rssOpen - rssBefore) / subscribers;
  console.log(`  ${subscribers} streams open in ${openSeconds.toFixed(1)} s (${Math.round(subscribers / openSeconds)}/s); API RSS ${(rssBefore / 2 ** 20).toFixed(0)} → ${(rssOpen / 2 ** 20).toFixed(0)} MiB, ${(perStream / 1024).toFixed(1)} KiB per stream`);

  // ---- idle: what holding them costs ------------------------------------------------------------
  // Each stream's first read queued its feed's upkeep (src/fanout/upkeep.ts): holding is measured once they are done.
  const settling = statusLine();
  for (const started = Date.now(); ; ) {
    const pending = (await api.metrics()).sum("feedline_upkeep_pending");
    if (pending === 0) break;
    if (Date.now() - started > 900_000) throw new Error(`${pending} upkeeps still pending after 15 minutes`);
    settling.update(`waiting for the upkeeps the streams' first reads queued: ${pending} left`);
    await Bun.sleep(1000);
  }
  settling.done();
  const idleLine = statusLine();
  idleLine.update(`holding ${subscribers} idle streams for ${idleSeconds} s`);
  const idleBefore = cpuSeconds(pids);
  await Bun.sleep(idleSeconds * 1000);
  idleShare = cpuShare(idleBefore, cpuSeconds(pids), idleSeconds);
  idleLine.done();
  const closedWhileIdle = closedByServer;
  console.log(`  idle: ${Object.entries(idleShare).map(([k, v]) => `${k} ${v}`).join(", ")} of a core; ${closedWhileIdle} streams closed by the server`);

  // ---- posts: write → every stream --------------------------------------------------------------
  const postsLine = progressBar("posting", postCount);
  const before = cpuSeconds(pids);
  for (let k = 0; k < postCount; k++) {
    const t0 = performance.now();
    await sql`insert into posts (author_id, body) values (${author!}, ${`a post for every live follower ~${tag}.${k}~`})`;
    written.push(t0);
    postsLine.tick(1);
    await Bun.sleep(gapMs);
  }
  // Until every post reached every stream, or 30 s after the last.
  const deadline = performance.now() + 30_000;
  while (missing() > 0 && performance.now() < deadline) await Bun.sleep(200);
  postsLine.finish();
  cpu = cpuPerUnit(before, cpuSeconds(pids), postCount, "post");
} finally {
  closing = true;
  for (const s of sockets) s.end();
  await api.stop();
  await worker.stop();
}

const latencies = arrivals.flatMap((row, k) => [...row].filter((t) => !Number.isNaN(t)).map((t) => t - written[k]!));
const lat = summarize(latencies);
const lost = missing();
const table = markdownTable([
  {
    streams: subscribers,
    followers: followerCount,
    "opened/s": Math.round(subscribers / openSeconds),
    "API KiB/stream": (perStream / 1024).toFixed(1),
    "idle API % of a core": idleShare.api ?? "?",
    "posts": postCount,
    "deliveries": latencies.length,
    "missing": lost,
    "p50 ms": lat["p50 ms"],
    "p99 ms": lat["p99 ms"],
    "max ms": lat["max ms"],
    "closed by server": closedByServer,
    "CPU-ms/post": cpu.text.replace(/^CPU-ms per post: /, ""),
  },
]);
console.log(`\n${table}`);
if (values.profile) for (const summary of bunProfiles(values.profile)) console.log(`\n${head(summary, 60)}`);
record(
  "Live subscribers: one API process holding many feed.onItem streams",
  `npm run bench:live -- --subscribers ${subscribers}${followerCount !== subscribers ? ` --followers ${followerCount}` : ""} --posts ${postCount} --gap ${gapMs / 1000} --idle ${idleSeconds} --concurrency ${concurrency}${values.profile ? ` --profile ${values.profile}` : ""}`,
  table,
  `${values.profile ? "Under Bun's CPU profiler (which slows the API and the workers). " : ""}${followerCount} users follow one author; ${subscribers === followerCount ? "each holds" : `${subscribers} of them, spread evenly, hold`} one feed.onItem stream (server-sent events over a plain socket) to one \`serve --role api\` process; the workers run in another. ` +
    `Memory per stream: the API's RSS after opening them all, less before, over the streams. Idle: the API's CPU over ${idleSeconds} s with the streams open and nothing posted, once the upkeeps their first reads queued were done. ` +
    `Latency: from each post's INSERT committing to its arrival on each stream, over every stream and post. CPU-ms per post for every process, the fan-out to ${followerCount} feeds included.`,
);
await services.close();
process.exit(lost > 0 || closedByServer > 0 ? 1 : 0);
