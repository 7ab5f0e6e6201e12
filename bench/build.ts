/**
 * Bulk build: the time to build every feed from the change topics, which hold the snapshot of
 * every table (Debezium's snapshot and stream, compacted per row). One command:
 *   npm run bench:build -- [--users 10000] [--activities 1000000] [--follows 20] [--skew 3]
 * Seeds the data set when it is not there, waits for Debezium to have emitted it, then throws
 * away every piece of derived state (Cassandra tables, Redis, the routed events, both consumer
 * groups' offsets), starts the service (API and workers in one process) and times it until every
 * change has been routed and applied. This is also the recovery procedure for lost derived state
 * (docs/operations.md), measured. Needs the stack up and no service running.
 */
import { capturedTables, changeTopic } from "../src/clients/kafka";
import { deleteNamespace } from "../src/clients/redis";
import { datasetCounts, seedDataset } from "./dataset";
import { cpuPerUnit, cpuSeconds, cpuShare, openBench, stackPids, startService, waitForPipeline } from "./pipeline";
import { datasetArgs } from "./seed";
import { markdownTable, record, statusLine } from "./support";

const o = datasetArgs();
const { config, services, admin } = await openBench();
const { sql, cassandra, redis } = services;

let counts = await datasetCounts(sql, o.prefix);
if (counts.users === 0) {
  console.log(`seeding "${o.prefix}" (${o.users} users, ${o.activities} activities)`);
  counts = await seedDataset(sql, o);
} else {
  console.log(`data set "${o.prefix}" present: ${counts.users} users; --users/--activities are ignored`);
}

const changeTopics = capturedTables.map((t) => changeTopic(config.kafka, t));
async function changeEvents() {
  let n = 0;
  for (const topic of changeTopics) for (const p of await admin.fetchTopicOffsets(topic)) n += Number(p.high) - Number(p.low);
  return n;
}
// Nothing consumes yet: wait until Debezium has emitted everything (the topics stop growing).
const emitted = statusLine();
for (let last = -1, stable = 0; stable < 3; ) {
  await Bun.sleep(2000);
  const n = await changeEvents();
  stable = n === last ? stable + 1 : 0;
  last = n;
  emitted.update(`waiting for Debezium to emit the data set: ${n} change events in Kafka`);
}
emitted.done();

console.log("dropping derived state: Cassandra tables, Redis, routed events, consumer group offsets");
for (const table of ["users", "followers", "following", "activities_by_actor", "home_feed", "feed_cuts", "feed_upkeep"]) await cassandra.execute(`TRUNCATE ${table}`);
await deleteNamespace(redis);
await admin.deleteGroups([config.stream.routerGroup, config.stream.feedsGroup]).catch(() => {});
const events = await admin.fetchTopicOffsets(config.stream.eventsTopic);
await admin.deleteTopicRecords({ topic: config.stream.eventsTopic, partitions: events.map((p) => ({ partition: p.partition, offset: "-1" })) });
const toRoute = await changeEvents();

// What a complete build writes, at most: every activity into its actor's feed and each follower's.
// (Backfill on a follow takes only the followee's newest FEEDLINE_FEED_LENGTH, so it can be less.)
const [{ expected }] = (await sql`
  with fc as (select followee_id as u, count(*) as c from follows group by 1),
       acts as (select author_id as a from posts union all select author_id from comments union all select user_id from likes union all select follower_id from follows)
  select sum(1 + coalesce(fc.c, 0))::bigint::text as expected from acts left join fc on fc.u = acts.a`) as unknown as [{ expected: string | null }];
const [{ id: marker }] = (await sql`select id::text as id from users where handle = ${`${o.prefix}_1`}`) as unknown as [{ id: string }];
console.log(`building every feed from ${toRoute} change events`);
const service = await startService();
const cpu0 = cpuSeconds({ service: service.pid, ...stackPids() });
const seconds = await waitForPipeline(services, admin, marker, { label: "building" });
const cpu1 = cpuSeconds({ service: service.pid, ...stackPids() });
const m = await service.metrics();
await service.stop();

const routed = m.sum("feedline_events_total", { stage: "router" });
const applied = m.sum("feedline_events_total", { stage: "feeds" });
const entries = m.sum("feedline_fanout_writes_total");
const activities = counts.follows + counts.posts + counts.likes + counts.comments;
const table = markdownTable([
  {
    users: counts.users,
    "activities (follows+posts+likes+comments)": activities,
    "change events routed": routed,
    "routed events applied": applied,
    "feed entries written": entries,
    "entries if no length cap": Number(expected ?? 0),
    "build s": seconds.toFixed(0),
    "activities/s": Math.round(activities / seconds),
    "feed entries/s": Math.round(entries / seconds),
  },
]);
const share = cpuShare(cpu0, cpu1, seconds);
const perEntry = cpuPerUnit(cpu0, cpu1, entries, "feed entry").text;
console.log(`\n${table}\n\nCPU (100% = one core): ${JSON.stringify(share)}\n${perEntry}`);
record(
  `Bulk build of every feed, ${counts.users} users, ${activities} activities`,
  `npm run bench:build -- --users ${o.users} --activities ${o.activities} --follows ${o.follows} --skew ${o.skew}`,
  table,
  `From an empty derived state: the router re-reads the compacted change topics and the feed worker applies every event ` +
    `(API and workers in one process, every stack component and the script on the same 2 cores). ` +
    `The activities include the data set users' FOLLOW activities; "change events routed" also counts users and any rows not in the data set. ` +
    `Average CPU over the build, 100% = one core: ${Object.entries(share).map(([k, v]) => `${k} ${v}`).join(", ")} (machine = all processes, out of 200%). ${perEntry}.`,
);
await admin.disconnect();
await services.close();
process.exit(0);
