/**
 * Fan-out throughput. One command:
 *   npm run bench:fanout -- [--rates 500,1000,2000] [--seconds 30] [--celebrity 100000]
 * 1. Sustained: posts by random users of the generated data set (npm run seed) are inserted into
 *    PostgreSQL at each rate in turn (straight SQL, so the load generator is not the limit); for
 *    each step, the feed entries written per second, the consumer lag (sampled every second) and
 *    the time to drain once writes stop.
 * 2. Celebrity: a user with `--celebrity` followers (created for the run) posts through the API;
 *    the time until the worker has written the post into every follower's feed, checked two ways:
 *    the service's fan-out counter, and 200 random followers' feeds polled in Cassandra; then every
 *    follower's feed is checked once.
 * Needs the stack up and no service running.
 */
import { parseArgs } from "node:util";
import { apiClient, cpuSeconds, openBench, stackPids, startService, totalLag, waitForPipeline } from "./pipeline";
import { markdownTable, progressBar, record, statusLine } from "./support";

const { values } = parseArgs({
  options: {
    rates: { type: "string", default: "500,1000,2000" },
    seconds: { type: "string", default: "30" },
    celebrity: { type: "string", default: "100000" },
    prefix: { type: "string", default: "bench" },
  },
});
const rates = values.rates.split(",").filter(Boolean).map(Number);
const seconds = Number(values.seconds);
const celebrityFollowers = Number(values.celebrity);
if (rates.some((r) => !(r > 0)) || !(seconds > 0) || !(celebrityFollowers >= 0)) throw new Error("need --rates of positive numbers, --seconds > 0, --celebrity ≥ 0");

const { services, admin } = await openBench();
const { sql, cassandra } = services;
const service = await startService();
const like = `${values.prefix}\\_%`;
const [range] = (await sql`select min(id)::text as lo, count(*)::int as n from users where handle like ${like}`) as unknown as [{ lo: string | null; n: number }];
const marker = range.lo;

const sustained: Record<string, string | number>[] = [];
if (!marker || range.n === 0) {
  console.log(`no data set "${values.prefix}": skipping the sustained fan-out (npm run seed first)`);
} else {
  await waitForPipeline(services, admin, marker, { label: "waiting for a quiet pipeline" });
  const [{ followers }] = (await sql`
    select avg(c)::float8 as followers from (select count(f.follower_id) as c from users u left join follows f on f.followee_id = u.id where u.handle like ${like} group by u.id) x`) as unknown as [{ followers: number }];
  for (const rate of rates) {
    console.log(`sustained: ${rate} posts/s for ${seconds} s (data-set authors, ${followers.toFixed(1)} followers on average)`);
    const before = await service.metrics();
    const t0 = performance.now();
    let posted = 0;
    let maxLag = 0;
    let nextLag = 0;
    const load = statusLine();
    while (performance.now() - t0 < seconds * 1000) {
      const due = Math.floor(((performance.now() - t0) / 1000) * rate) - posted;
      if (due > 0) {
        await sql`
          insert into posts (author_id, body)
          select ${range.lo}::bigint + floor(random() * ${range.n})::bigint, 'fan-out bench ' || g from generate_series(1, ${due}::int) g`;
        posted += due;
      }
      if (performance.now() >= nextLag) {
        nextLag = performance.now() + 1000;
        maxLag = Math.max(maxLag, await totalLag(admin, services));
        load.update(`${posted} posts, lag ${maxLag} max`);
      }
      await Bun.sleep(20);
    }
    load.done();
    const elapsed = (performance.now() - t0) / 1000;
    const atStop = await service.metrics();
    const drain = await waitForPipeline(services, admin, marker, { label: "draining" });
    const after = await service.metrics();
    const entriesDuring = atStop.sum("feedline_fanout_writes_total") - before.sum("feedline_fanout_writes_total");
    const entries = after.sum("feedline_fanout_writes_total") - before.sum("feedline_fanout_writes_total");
    sustained.push({
      "posts/s offered": rate,
      "posts/s inserted": Math.round(posted / elapsed),
      "feed entries/s while writing": Math.round(entriesDuring / elapsed),
      "feed entries/s incl. drain": Math.round(entries / (elapsed + drain)),
      "max lag (events)": maxLag,
      "drain s": drain.toFixed(1),
    });
  }
}

// ---- celebrity --------------------------------------------------------------------------------------
let celebrity: Record<string, string | number> | undefined;
if (celebrityFollowers > 0) {
  const run = Date.now().toString(36);
  const api = (token?: string) => apiClient(service.url, token);
  const star = await api().users.create.mutate({ handle: `celeb_${run}` });
  console.log(`celebrity: creating ${celebrityFollowers} followers of ${star.user.handle}`);
  const bar = progressBar("followers", celebrityFollowers);
  for (let from = 0; from < celebrityFollowers; from += 20_000) {
    const count = Math.min(20_000, celebrityFollowers - from);
    await sql`
      with fans as (insert into users (handle) select ${`cf${run}_`} || g from generate_series(${from + 1}::int, ${from + count}::int) g returning id)
      insert into follows (follower_id, followee_id) select id, ${star.user.id}::bigint from fans`;
    bar.tick(count);
  }
  bar.finish();
  await waitForPipeline(services, admin, star.user.id, { label: "waiting for the follows to be applied" });
  const fans = (await sql`select follower_id::text as id from follows where followee_id = ${star.user.id}`).map((r) => r.id as string);
  const sample = [...fans].sort(() => Math.random() - 0.5).slice(0, 200);

  const before = (await service.metrics()).sum("feedline_fanout_writes_total");
  const pids = { service: service.pid, cassandra: stackPids().cassandra };
  const cpuBefore = cpuSeconds(pids);
  let cpuAfter: Record<string, number> | undefined;
  const t0 = performance.now();
  const post = await api(star.token).posts.create.mutate({ body: "hello, all of you" });
  const written = performance.now() - t0;
  const id = `shard:${post.id}`;
  const holds = async (userId: string) =>
    (await cassandra.execute("SELECT activity_id FROM home_feed WHERE user_id = ? LIMIT 5", [userId])).rows.some((r) => r.activity_id === id);
  let counterDone = Number.NaN;
  let sampleDone = Number.NaN;
  const waiting = new Set(sample);
  const sampling = statusLine();
  while (performance.now() - t0 < 120_000 && (Number.isNaN(counterDone) || Number.isNaN(sampleDone))) {
    if (Number.isNaN(counterDone) && (await service.metrics()).sum("feedline_fanout_writes_total") - before >= fans.length + 1) {
      counterDone = performance.now() - t0;
      cpuAfter = cpuSeconds(pids);
    }
    if (Number.isNaN(sampleDone)) {
      const checks = await Promise.all([...waiting].map(async (u) => [u, await holds(u)] as const));
      for (const [u, ok] of checks) if (ok) waiting.delete(u);
      if (waiting.size === 0) sampleDone = performance.now() - t0;
    }
    sampling.update(`${((performance.now() - t0) / 1000).toFixed(1)} s: ${sample.length - waiting.size}/${sample.length} sampled feeds hold the post`);
    await Bun.sleep(50);
  }
  sampling.done();
  let missing = 0;
  const verify = progressBar("verifying every follower's feed", fans.length);
  for (let i = 0; i < fans.length; i += 256) {
    const chunk = fans.slice(i, i + 256);
    missing += (await Promise.all(chunk.map(holds))).filter((ok) => !ok).length;
    verify.tick(chunk.length);
  }
  verify.finish();
  const s = (ms: number) => (Number.isNaN(ms) ? "not within 120 s" : (ms / 1000).toFixed(2));
  celebrity = {
    followers: fans.length,
    "API write s": s(written),
    "all feeds written (worker counter) s": s(counterDone),
    "200 sampled feeds hold it (Cassandra) s": s(sampleDone),
    "followers whose feed lacks it afterwards": missing,
    // CPU per feed entry travels between machines; seconds do not.
    "CPU-ms per entry: service": cpuAfter ? (((cpuAfter.service! - cpuBefore.service!) * 1000) / (fans.length + 1)).toFixed(3) : "-",
    "CPU-ms per entry: Cassandra": cpuAfter ? (((cpuAfter.cassandra! - cpuBefore.cassandra!) * 1000) / (fans.length + 1)).toFixed(3) : "-",
  };
}
await service.stop();
await admin.disconnect();

const tables = [
  sustained.length ? `Sustained fan-out (data set "${values.prefix}"):\n\n${markdownTable(sustained)}` : "",
  celebrity ? `Celebrity post, times from the write request:\n\n${markdownTable([celebrity])}` : "",
].filter(Boolean);
console.log(`\n${tables.join("\n\n")}`);
record(
  "Fan-out throughput",
  `npm run bench:fanout -- --rates ${values.rates} --seconds ${seconds} --celebrity ${celebrityFollowers}`,
  tables.join("\n\n"),
  "Posts are inserted by SQL for the sustained steps, through the API for the celebrity. " +
    "The service (API and workers in one process), the load generator and every stack component share the 2 cores.",
);
await services.close();
process.exit(0);
