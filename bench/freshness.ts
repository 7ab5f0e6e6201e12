/**
 * Freshness: posts written through the API at a steady rate; for each, the time until it is in a
 * follower's `feed.home` page, read through the API. One command:
 *   npm run bench:freshness -- [--rate 200] [--seconds 60] [--authors 50] [--followers 20] [--split]
 * Each author has one watcher holding a live subscription (`feed.onItem`, server-sent events) and
 * a warm cache; when the watcher is told of a post, it reads `feed.home` and the post counts as
 * visible when the page holds it. Authors also get `--followers` followers from the generated data
 * set (when seeded), so every post fans out like a real one. Times run from just before the write
 * request to the page that shows the post. The split by stage comes from the service's
 * feedline_stage_seconds histogram. Needs the stack up and no service running.
 */
import { createTRPCClient, httpSubscriptionLink } from "@trpc/client";
import { EventSource } from "eventsource";
import { parseArgs } from "node:util";
import type { AppRouter } from "../src/api";
import { apiClient, cpuPerUnit, cpuSeconds, histogramDelta, openBench, stackPids, startService, waitForPipeline } from "./pipeline";
import { markdownTable, record, statusLine, summarize } from "./support";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "200" },
    seconds: { type: "string", default: "60" },
    authors: { type: "string", default: "50" },
    followers: { type: "string", default: "20" },
    prefix: { type: "string", default: "bench" },
    split: { type: "boolean", default: false },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const authorCount = Number(values.authors);
const followerCount = Number(values.followers);
if (!(rate > 0 && seconds > 0 && authorCount > 0 && followerCount >= 0)) throw new Error("need --rate > 0, --seconds > 0, --authors > 0, --followers ≥ 0");

const { services, admin } = await openBench();
const { sql, redis } = services;
// --split: the API alone (`serve --role api`) and the workers in a second process, for comparing
// posts.create under load with the default `serve`, where the workers run in a thread of the API's process.
const service = await startService(values.split ? { role: "api" } : {});
const workers = values.split ? await startService({ role: "worker" }) : undefined;
/** The process whose /metrics has the stream's histograms. */
const stream = workers ?? service;
const url = `${service.url}/trpc`;
const client = (token?: string) => apiClient(service.url, token);

// ---- set-up: authors, watchers, followers ------------------------------------------------------
const run = Date.now().toString(36);
console.log(`creating ${authorCount} authors and their watchers`);
const signUp = (handle: string) => client().users.create.mutate({ handle });
const authors = await Promise.all(Array.from({ length: authorCount }, (_, i) => signUp(`fr_${run}_a${i}`)));
const watchers = await Promise.all(Array.from({ length: authorCount }, (_, i) => signUp(`fr_${run}_w${i}`)));
await Promise.all(watchers.map((w, i) => client(w.token).follows.follow.mutate({ userId: authors[i]!.user.id })));
const like = `${values.prefix}\\_%`;
const [{ n: seeded }] = (await sql`select count(*)::int as n from users where handle like ${like}`) as unknown as [{ n: number }];
if (seeded > 0 && followerCount > 0) {
  for (const a of authors) {
    await sql`
      insert into follows (follower_id, followee_id)
      select id, ${a.user.id}::bigint from users where handle like ${like} order by random() limit ${followerCount}
      on conflict do nothing`;
  }
  console.log(`each author followed by its watcher and ${followerCount} users of data set "${values.prefix}"`);
} else {
  console.log(`no data set "${values.prefix}": each author is followed by its watcher only (npm run seed for realistic fan-out)`);
}
await waitForPipeline(services, admin, authors[0]!.user.id, { label: "waiting for the follows to be applied" });
await admin.disconnect();

// Watchers are active users: a warm cache, and a live subscription.
const readers = watchers.map((w) => client(w.token));
await Promise.all(readers.map((r) => r.feed.home.query({ limit: 20 })));
const pending = new Map<string, { start: number; watcher: number }>();
const early = new Map<string, number>();
const sse: number[] = [];
const visible: number[] = [];
let notVisible = 0;
const subscriptions = watchers.map((w, i) =>
  createTRPCClient<AppRouter>({
    links: [httpSubscriptionLink({ url, connectionParams: { authorization: `Bearer ${w.token}` }, EventSource })],
  }).feed.onItem.subscribe(undefined, {
    onData: (event) => {
      const at = performance.now();
      if (event.data.type !== "add") return;
      const id = event.data.item.id;
      const p = pending.get(id);
      if (p) void seen(id, p, at);
      else early.set(id, at);
    },
    onError: (err) => console.error(`watcher ${i}: ${err.message}`),
  }),
);
for (let waited = 0; ; waited += 100) {
  const listening = await services.live.listening(watchers.map((w) => w.user.id));
  if (listening.length === watchers.length) break;
  if (waited > 30_000) throw new Error("the watchers' subscriptions did not register within 30 s");
  await Bun.sleep(100);
}

async function seen(id: string, p: { start: number; watcher: number }, pushedAt: number) {
  pending.delete(id);
  sse.push(pushedAt - p.start);
  for (let attempt = 0; attempt < 50; attempt++) {
    const page = await readers[p.watcher]!.feed.home.query({ limit: 20 });
    if (page.items.some((x) => x.id === id)) {
      visible.push(performance.now() - p.start);
      return;
    }
    await Bun.sleep(20);
  }
  notVisible++;
}

// ---- load -----------------------------------------------------------------------------------------
const writers = authors.map((a) => client(a.token));
const before = await stream.metrics();
const pids = { service: service.pid, ...(workers ? { workers: workers.pid } : {}), ...stackPids() };
const cpuBefore = cpuSeconds(pids);
console.log(`posting ${rate}/s for ${seconds} s through the API`);
const t0 = performance.now();
let sent = 0;
const progress = statusLine();
const writes: Promise<void>[] = [];
const writeLatency: number[] = [];
while (performance.now() - t0 < seconds * 1000) {
  const due = Math.floor(((performance.now() - t0) / 1000) * rate);
  for (; sent < due; sent++) {
    const author = sent % authorCount;
    const start = performance.now();
    writes.push(
      writers[author]!.posts.create.mutate({ body: `freshness ${run} #${sent}` }).then((post) => {
        writeLatency.push(performance.now() - start);
        const id = `shard:${post.id}`;
        const p = { start, watcher: author };
        const pushedAt = early.get(id);
        if (pushedAt !== undefined) early.delete(id), void seen(id, p, pushedAt);
        else pending.set(id, p);
      }),
    );
  }
  progress.update(`${sent} posted, ${visible.length} visible`);
  await Bun.sleep(5);
}
await Promise.all(writes);
const achieved = sent / ((performance.now() - t0) / 1000);
for (let waited = 0; (pending.size > 0 || visible.length + notVisible < sent) && waited < 30_000; waited += 100) await Bun.sleep(100);
progress.update(`${sent} posted, ${visible.length} visible`);
progress.done();
const after = await stream.metrics();
const cpu = cpuPerUnit(cpuBefore, cpuSeconds(pids), sent, "post").text;
for (const s of subscriptions) s.unsubscribe();
await service.stop();
await workers?.stop();

// ---- report -----------------------------------------------------------------------------------------
const ms = (s: number) => (Number.isFinite(s) ? (s * 1000).toFixed(0) : "n/a");
const table = markdownTable([
  { measure: "write request → post visible in the follower's feed.home page (API)", ...summarize(visible) },
  { measure: "write request → live push to the follower (SSE)", ...summarize(sse) },
  { measure: "write request → API answered (posts.create)", ...summarize(writeLatency) },
]);
const stageRows = ["capture", "route", "deliver", "write"].map((stage) => {
  const h = histogramDelta(before, after, "feedline_stage_seconds", { stage });
  return { stage, n: h.count, "mean ms": ms(h.mean), "p50 ≤ ms": ms(h.p50), "p95 ≤ ms": ms(h.p95), "p99 ≤ ms": ms(h.p99) };
});
const f = histogramDelta(before, after, "feedline_freshness_seconds");
stageRows.push({ stage: "source commit → feed written (all stages)", n: f.count, "mean ms": ms(f.mean), "p50 ≤ ms": ms(f.p50), "p95 ≤ ms": ms(f.p95), "p99 ≤ ms": ms(f.p99) });
const stages = markdownTable(stageRows);
const lost = sent - visible.length;
console.log(`\n${table}\n\n${stages}\n\nposted ${sent} at ${achieved.toFixed(0)}/s; not visible within 30 s: ${lost}\n${cpu}`);
record(
  `Freshness at ${rate} posts/s`,
  `npm run bench:freshness -- --rate ${rate} --seconds ${seconds} --authors ${authorCount} --followers ${followerCount}${values.split ? " --split" : ""}`,
  `${table}\n\nBy stage, from the service's histograms (bucket bounds, so "≤"):\n\n${stages}`,
  `${sent} posts at ${achieved.toFixed(0)}/s through the API by ${authorCount} authors, each followed by a watcher ` +
    `(live subscription, warm cache)${seeded > 0 ? ` and ${followerCount} data-set users` : ""}; ${lost} not visible within 30 s. ` +
    `${values.split ? "The API and the workers in two processes (--split)" : "The service (API, and workers in a thread of its process)"}, the load generator, the watchers and every stack component share the 2 cores. ` +
    `${cpu} (the posting window and the wait for the last ones to show; the watchers' reads count too).`,
);
await services.close();
process.exit(0);
