/**
 * Notifications, end to end:
 *   npm run bench:notifications -- [--authors 200] [--likers 400] [--rate 100] [--seconds 20] [--groups 200] [--wrk-seconds 10] [--connections 32]
 * 1. Freshness under load: `--authors` users each wrote one post and hold a
 *    `notifications.onChange` stream (server-sent events over plain sockets) to one
 *    `serve --role api` process; the workers run as a process of their own. `--likers` users like
 *    those posts at `--rate` likes/s for `--seconds` (each like a row inserted in PostgreSQL), and
 *    each like's time from its INSERT committing to the event on its author's stream that shows
 *    the liker is measured (p50, p99, max), with the likes whose event never came, and CPU-ms per
 *    like for each process.
 * 2. `notifications.list` (limit 20) for a user with `--groups` groups, with wrk (-t2,
 *    `--connections`): pages/s, latency, and CPU-ms per page for the API, Redis and Cassandra.
 * Needs the stack up and no service running.
 */
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { parseArgs } from "node:util";
import { cpuPerUnit, cpuSeconds, openBench, stackPids, startService, waitForPipeline } from "./pipeline";
import { markdownTable, progressBar, record, summarize, wrk } from "./support";
import { openSse } from "./sse";

const { values } = parseArgs({
  options: {
    authors: { type: "string", default: "200" },
    likers: { type: "string", default: "400" },
    rate: { type: "string", default: "100" },
    seconds: { type: "string", default: "20" },
    groups: { type: "string", default: "200" },
    "wrk-seconds": { type: "string", default: "10" },
    connections: { type: "string", default: "32" },
  },
});
const [authorCount, likerCount, rate, seconds, groupCount, wrkSeconds, connections] = [
  values.authors, values.likers, values.rate, values.seconds, values.groups, values["wrk-seconds"], values.connections,
].map(Number) as [number, number, number, number, number, number, number];
const likeCount = rate * seconds;
if (likeCount > authorCount * likerCount) throw new Error(`--rate × --seconds (${likeCount}) likes need more than --authors × --likers pairs`);

const { services, admin } = await openBench();
const { sql } = services;

// ---- data -------------------------------------------------------------------------------------
const tag = `n${Date.now().toString(36)}`;
const ids = async (prefix: string, n: number) =>
  (await sql`insert into users (handle) select ${`${tag}_${prefix}_`} || g from generate_series(1, ${n}) g returning id::text as id`).map((r) => r.id as string);
const authors = await ids("a", authorCount);
const likers = await ids("l", likerCount);
const [reader] = await ids("r", 1);
const posts = (await sql`insert into posts (author_id, body) select unnest(${authors}::bigint[]), 'a post to like' returning id::text as id, author_id::text as author`).map(
  (r) => ({ id: r.id as string, author: r.author as string }),
);
// The reader's groups for the list phase: one post per group, each liked by three likers.
const readerPosts = (await sql`insert into posts (author_id, body) select ${reader!}, 'post ' || g from generate_series(1, ${groupCount}) g returning id::text as id`).map((r) => r.id as string);
await sql`insert into likes (user_id, post_id) select l, p from unnest(${readerPosts}::bigint[]) p, unnest(${likers.slice(0, 3)}::bigint[]) l`;

const worker = await startService({ role: "worker" });
await waitForPipeline(services, admin, reader!, { label: "waiting for the set-up to be applied" });
await admin.disconnect();
const api = await startService({ role: "api" });
const pids = { api: api.pid, worker: worker.pid, ...stackPids() };

// ---- 1. freshness under load ------------------------------------------------------------------
/** When each like (author:liker) was inserted, and when its author's stream first showed the liker. */
const insertedAt = new Map<string, number>();
const shownAt = new Map<string, number>();
let closedByServer = 0;
let closing = false;
const sockets: { end(): void }[] = [];
const path = `/trpc/notifications.onChange?input=${encodeURIComponent(JSON.stringify({}))}`;
const actorIds = /"actors":\[([^\]]*)\]/g;

let freshness: ReturnType<typeof summarize> | undefined;
let cpu = { totalMs: Number.NaN, text: "" };
let listed: ReturnType<typeof wrk> | undefined;
let listCpu = { totalMs: Number.NaN, text: "" };
const scratch = mkdtempSync(`${tmpdir()}/feedline-bench-`);
try {
  const opening = progressBar("opening onChange streams", authorCount);
  for (const author of authors) {
    let rest = "";
    sockets.push(
      await openSse({
        port: api.port,
        path,
        token: services.tokens.mint(author),
        carry: 0,
        onText(text, now) {
          // Whole events only: an event's data line ends with a newline.
          const lines = (rest + text).split("\n");
          rest = lines.pop() ?? "";
          for (const line of lines) {
            for (const m of line.matchAll(actorIds)) {
              for (const actor of m[1]!.matchAll(/"id":"(\d+)"/g)) {
                const key = `${author}:${actor[1]}`;
                if (insertedAt.has(key) && !shownAt.has(key)) shownAt.set(key, now);
              }
            }
          }
        },
        onClose() {
          if (!closing) closedByServer++;
        },
      }),
    );
    opening.tick(1);
  }
  opening.finish();

  const liking = progressBar(`liking at ${rate}/s`, likeCount);
  const before = cpuSeconds(pids);
  const started = performance.now();
  for (let k = 0; k < likeCount; k++) {
    // Spread over authors first, so each author's group gains a new liker at a time.
    const post = posts[k % authorCount]!;
    const liker = likers[Math.floor(k / authorCount)]!;
    const wait = started + (k * 1000) / rate - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    const t0 = performance.now();
    await sql`insert into likes (user_id, post_id) values (${liker}, ${post.id})`;
    insertedAt.set(`${post.author}:${liker}`, t0);
    liking.tick(1);
  }
  const deadline = performance.now() + 30_000;
  while (shownAt.size < likeCount && performance.now() < deadline) await Bun.sleep(200);
  liking.finish();
  cpu = cpuPerUnit(before, cpuSeconds(pids), likeCount, "like");
  freshness = summarize([...shownAt].map(([key, at]) => at - insertedAt.get(key)!));

  // ---- 2. notifications.list pages/s ----------------------------------------------------------
  const url = `${api.url}/trpc/notifications.list?input=${encodeURIComponent(JSON.stringify({ limit: 20 }))}`;
  const token = services.tokens.mint(reader!);
  const page = (await (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).json()) as { result?: { data?: { items?: unknown[] } } };
  if ((page.result?.data?.items?.length ?? 0) !== Math.min(20, groupCount)) throw new Error(`the reader's first page is not full: ${JSON.stringify(page).slice(0, 300)}`);
  const script = `${scratch}/list.lua`;
  writeFileSync(script, `wrk.headers["authorization"] = "Bearer ${token}"\n`);
  wrk(url, { threads: 2, connections, seconds: 2, script }); // JIT and connections warm
  const listBefore = cpuSeconds(pids);
  listed = wrk(url, { threads: 2, connections, seconds: wrkSeconds, script });
  listCpu = cpuPerUnit(listBefore, cpuSeconds(pids), listed.requests, "page");
} finally {
  closing = true;
  for (const s of sockets) s.end();
  rmSync(scratch, { recursive: true, force: true });
  await api.stop();
  await worker.stop();
}

const missing = likeCount - shownAt.size;
const table = markdownTable([
  {
    phase: `like → author's onChange, ${rate} likes/s for ${seconds} s, ${authorCount} streams`,
    "per s": Math.round(likeCount / seconds),
    "p50 ms": freshness!["p50 ms"],
    "p99 ms": freshness!["p99 ms"],
    "max ms": freshness!["max ms"],
    "missing": missing,
    "CPU-ms per unit": cpu.text.replace(/^CPU-ms per like: /, "per like: "),
  },
  {
    phase: `notifications.list (limit 20, ${groupCount} groups), wrk -t2 -c${connections} -d${wrkSeconds}s`,
    "per s": Math.round(listed!.perSecond),
    "p50 ms": listed!.p50.toFixed(2),
    "p99 ms": listed!.p99.toFixed(2),
    "max ms": "",
    "missing": listed!.errors,
    "CPU-ms per unit": listCpu.text.replace(/^CPU-ms per page: /, "per page: "),
  },
]);
console.log(`\n${table}`);
record(
  "Notifications: freshness from a like to the author's onChange, and notifications.list pages",
  `npm run bench:notifications -- --authors ${authorCount} --likers ${likerCount} --rate ${rate} --seconds ${seconds} --groups ${groupCount} --wrk-seconds ${wrkSeconds} --connections ${connections}`,
  table,
  `One \`serve --role api\` process and one worker process; wrk and every stack component share the machine. Freshness: from each like's INSERT committing to the first event on its author's onChange stream that shows the liker among the group's newest actors; "missing" counts likes never shown within 30 s (for the list, answers that were not 2xx). ` +
    `The list phase reads one user's groups (each a post liked by three users), rendered with the actors' handles and the post. ${closedByServer} streams were closed by the server. CPU-ms per unit from /proc, for each process.`,
);
await services.close();
process.exit(missing > 0 || closedByServer > 0 || (listed?.errors ?? 1) > 0 ? 1 : 0);
