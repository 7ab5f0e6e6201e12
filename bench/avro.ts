/**
 * Change events as Avro with the schema registry, against the JSON converter they replaced:
 *   npm run bench:avro -- [--users 1000] [--rounds 2]
 * Two extra Debezium connectors capture the same changes of the stack's database at once, each
 * into topics of its own (prefixes `<prefix>_benchjson` and `<prefix>_benchavro`): one with the
 * JSON converter without schemas (what the project used before), one with the project's own
 * connector config (Avro, Confluent wire format). A workload of inserts, updates and deletes over
 * every kind of row is written to PostgreSQL, and once both sets of topics hold every change:
 * - bytes per event (key and value), per table and in all, for each format;
 * - bytes on disk per 1,000,000 changes: the size of the topics' log segments in Kafka's data
 *   directory over the changes they hold;
 * - the router's throughput over each set: the real rekey stage (src/stream/rekey.ts) consuming
 *   the set from the beginning in a fresh group and producing to the set's own events topic,
 *   `--rounds` times each, alternated; events/s from its first commit to its last, and this
 *   process's CPU per event.
 * The connectors, their slots and publications, topics, groups and subjects are removed at the
 * end, however the run ends. Appends the tables to docs/benchmarks.md.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Admin } from "kafkajs";
import { createStackContext, type StackContext } from "../deploy/stack/context";
import { deleteConnector, deleteKafkaNamespace, deleteSubjects } from "../deploy/stack/namespace";
import { withStackSecret } from "../deploy/stack/secret";
import { connectorConfig, waitStreaming } from "../deploy/stack/setup/connector";
import { dropReplicationSlot } from "../deploy/stack/setup/slot";
import { ensureTopics } from "../deploy/stack/setup/topics";
import { createKafka } from "../src/clients/kafka";
import { createPostgres } from "../src/clients/postgres";
import { createSchemaRegistry } from "../src/clients/registry";
import { type Config, loadConfig } from "../src/config";
import { createMetrics } from "../src/metrics";
import { capturedTables, kafkaNames } from "../src/names";
import { createAvroDecoder } from "../src/stream/avro";
import { createRekeyStage } from "../src/stream/rekey";
import { createStageStatus } from "../src/stream/status";
import { markdownTable, record, statusLine } from "./support";

const { values } = parseArgs({ options: { users: { type: "string", default: "1000" }, rounds: { type: "string", default: "2" } } });
const users = Number(values.users);
const rounds = Number(values.rounds);

const base = loadConfig(withStackSecret());
const formats = ["json", "avro"] as const;
type Format = (typeof formats)[number];
/** A pipeline of its own on the stack's database: its connector, slot, publication, topics and groups derive from the prefix. */
const pipelines = Object.fromEntries(
  formats.map((f) => {
    const config = loadConfig({ ...withStackSecret(), FEEDLINE_TOPIC_PREFIX: `${base.kafka.topicPrefix}_bench${f}` });
    return [f, { config, ctx: createStackContext(config) }];
  }),
) as Record<Format, { config: Config; ctx: StackContext }>;

const sql = createPostgres(base.postgres, { max: 4 });
const kafka = createKafka(base.kafka, "feedline-bench-avro", { quiet: true });
const admin = kafka.admin();
await admin.connect();
const changeTopics = (config: Config) => capturedTables.map((t) => kafkaNames(config.kafka.topicPrefix).change(t));

/** The connector of a bench pipeline: the project's config, with the JSON converter for the JSON one; streaming only (no snapshot). */
async function startCapture(format: Format) {
  const { ctx } = pipelines[format];
  await ensureTopics(ctx);
  const { name, config } = connectorConfig(ctx);
  const json = {
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "key.converter.schemas.enable": "false",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "false",
  };
  const own = Object.fromEntries(Object.entries(config).filter(([k]) => format === "avro" || !/^(key|value)\.converter/.test(k)));
  const body = { ...own, ...(format === "json" ? json : {}), "snapshot.mode": "no_data" };
  const res = await fetch(`${ctx.config.connect.url}/connectors/${name}/config`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`registering ${name}: ${res.status} ${await res.text()}`);
  await waitStreaming(ctx);
}

async function removePipeline(format: Format) {
  const { ctx } = pipelines[format];
  const step = (what: string, fn: () => Promise<unknown>) => fn().catch((err: Error) => console.warn(`warning: ${what}: ${err.message}`));
  await step("connector", () => deleteConnector(ctx));
  await step("slot", () => dropReplicationSlot(ctx));
  await step("publication", () => sql.unsafe(`drop publication if exists ${ctx.config.connect.publication}`));
  await step("topics and groups", () => deleteKafkaNamespace(ctx));
  await step("subjects", () => deleteSubjects(ctx.config.registry.ccompat, ctx.config.kafka.topicPrefix));
}

/** Every kind of change over every captured table but the marks: inserts, updates (before and after), deletes. */
async function workload() {
  const tag = `av${Date.now().toString(36)}`;
  const ids = (rows: { id: string }[]) => rows.map((r) => r.id);
  const line = statusLine();
  const counts: Record<string, number> = {};
  const note = (table: string, n: number) => {
    counts[table] = (counts[table] ?? 0) + n;
    line.update(`workload: ${Object.entries(counts).map(([t, c]) => `${t} ${c}`).join(", ")}`);
  };
  const people = ids(await sql`insert into users (handle, display_name) select ${`${tag}_`} || g, 'Bench User ' || g from generate_series(1, ${users}) g returning id::text as id`);
  note("users", people.length);
  const follows = await sql`insert into follows (follower_id, followee_id)
    select a, b from unnest(${people}::bigint[]) a cross join lateral (select b from unnest(${people}::bigint[]) b where b <> a order by random() limit 4) x
    on conflict do nothing returning follower_id`;
  note("follows", follows.length);
  const posts = ids(await sql`insert into posts (author_id, body)
    select a, 'post ' || g || ' by ' || a || ': first light over the harbour, and the ferries already running' from unnest(${people}::bigint[]) a, generate_series(1, 6) g returning id::text as id`);
  note("posts", posts.length);
  const likes = await sql`insert into likes (user_id, post_id)
    select u, p from unnest(${people}::bigint[]) u cross join lateral (select p from unnest(${posts}::bigint[]) p order by random() + u * 0 limit 4) x on conflict do nothing returning user_id, post_id`;
  note("likes", likes.length);
  const comments = await sql`insert into comments (post_id, author_id, body)
    select p, (${people}::bigint[])[1 + floor(random() * ${people.length})::int], 'a comment, not too long, about the post' from unnest(${posts.slice(0, users * 2)}::bigint[]) p returning id`;
  note("comments", comments.length);
  const edited = await sql`update posts set body = body || ' (edited)' where id = any(${posts.slice(0, users)}::bigint[]) returning id`;
  note("posts", edited.length);
  const unliked = await sql`delete from likes where (user_id, post_id) in (select user_id, post_id from likes where user_id = any(${people}::bigint[]) limit ${users}) returning user_id`;
  note("likes", unliked.length);
  line.done();
  return { counts, total: Object.values(counts).reduce((a, b) => a + b, 0) };
}

/** Messages held by each of a set's change topics (they were created empty for this run). */
async function held(config: Config) {
  const out: Record<string, number> = {};
  for (const [i, topic] of changeTopics(config).entries()) {
    out[capturedTables[i]!] = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  }
  return out;
}

/** Key and value bytes of every message of a set, per table. */
async function bytesOf(config: Config) {
  const topics = changeTopics(config);
  const expected = Object.values(await held(config)).reduce((a, b) => a + b, 0);
  const per: Record<string, { events: number; bytes: number }> = {};
  let seen = 0;
  const consumer = kafka.consumer({ groupId: `${config.kafka.topicPrefix}-bytes-${Date.now()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      const table = capturedTables[topics.indexOf(topic)]!;
      const p = (per[table] ??= { events: 0, bytes: 0 });
      p.events++;
      p.bytes += (message.key?.length ?? 0) + (message.value?.length ?? 0);
      if (++seen >= expected) done();
    },
  });
  await all;
  await consumer.disconnect();
  return per;
}

/** Bytes of the log segments (not the preallocated indexes) of a set's change topics, in Kafka's data directory. */
function onDisk(ctx: StackContext, config: Config) {
  const dir = ctx.data("kafka");
  const topics = new Set(changeTopics(config));
  let bytes = 0;
  for (const d of readdirSync(dir)) {
    if (!topics.has(d.replace(/-\d+$/, ""))) continue;
    for (const f of readdirSync(join(dir, d))) if (f.endsWith(".log")) bytes += statSync(join(dir, d, f)).size;
  }
  return bytes;
}

/** The real rekey stage over a set, from the beginning, in a fresh group; until its lag is 0. */
async function routeAll(format: Format, round: number, events: number) {
  const { config: own } = pipelines[format];
  const groupId = `${own.kafka.topicPrefix}-router-${round}-${Date.now()}`;
  const config = { ...own, stream: { ...own.stream, routerGroup: groupId } };
  const metrics = createMetrics();
  const status = createStageStatus("router", metrics);
  const avro = createAvroDecoder(createSchemaRegistry(config.registry.ccompat).schema);
  const stage = createRekeyStage({ kafka, config, metrics, avro, status });
  const topics = changeTopics(config);
  const lag = async (a: Admin) => {
    const committed = await a.fetchOffsets({ groupId, topics });
    let total = 0;
    for (const t of committed) {
      const ends = await a.fetchTopicOffsets(t.topic);
      for (const p of t.partitions) total += Number(ends.find((e) => e.partition === p.partition)!.high) - Math.max(0, Number(p.offset));
    }
    return total;
  };
  const cpu0 = process.cpuUsage();
  await stage.start();
  let first: number | undefined;
  let last = Date.now();
  for (;;) {
    const left = await lag(admin);
    if (first === undefined && left < events) first = Date.now();
    if (left === 0) {
      last = Date.now();
      break;
    }
    await Bun.sleep(50);
  }
  const cpu = process.cpuUsage(cpu0);
  await stage.stop();
  const seconds = (last - (first ?? last)) / 1000;
  return { format, round, seconds, perSecond: seconds > 0 ? events / seconds : Number.NaN, cpuUsPerEvent: (cpu.user + cpu.system) / events };
}

try {
  for (const f of formats) await removePipeline(f); // what a run that died left behind
  for (const f of formats) {
    const started = statusLine();
    started.update(`starting the ${f} connector`);
    await startCapture(f);
    started.done();
  }
  const { counts, total } = await workload();
  const wait = statusLine();
  for (const f of formats) {
    for (;;) {
      const n = Object.values(await held(pipelines[f].config)).reduce((a, b) => a + b, 0);
      wait.update(`${f}: ${n}/${total} changes captured`);
      if (n >= total) break;
      await Bun.sleep(1000);
    }
  }
  wait.done();

  const sizes = Object.fromEntries(await Promise.all(formats.map(async (f) => [f, await bytesOf(pipelines[f].config)] as const))) as Record<Format, Record<string, { events: number; bytes: number }>>;
  const rows = [...Object.keys(counts).filter((t) => sizes.json[t]), "all"].map((table) => {
    const of = (f: Format) => (table === "all" ? Object.values(sizes[f]).reduce((a, b) => ({ events: a.events + b.events, bytes: a.bytes + b.bytes }), { events: 0, bytes: 0 }) : sizes[f][table]!);
    const [json, avro] = [of("json"), of("avro")];
    return {
      table,
      events: `${json.events} / ${avro.events}`,
      "JSON bytes/event": (json.bytes / json.events).toFixed(0),
      "Avro bytes/event": (avro.bytes / avro.events).toFixed(0),
      "Avro / JSON": `${((avro.bytes / avro.events / (json.bytes / json.events)) * 100).toFixed(0)}%`,
    };
  });
  const disk = formats.map((f) => {
    const events = Object.values(sizes[f]).reduce((a, b) => a + b.events, 0);
    const bytes = onDisk(pipelines[f].ctx, pipelines[f].config);
    return { format: f, events, "log bytes": bytes, "MB per 1M changes": ((bytes / events) * 1e6 / 1e6).toFixed(0) };
  });

  const runs = [];
  for (let r = 1; r <= rounds; r++) {
    for (const f of formats) {
      const line = statusLine();
      line.update(`router over the ${f} topics, round ${r}`);
      runs.push(await routeAll(f, r, total));
      line.done();
    }
  }
  const routerRows = runs.map((r) => ({ format: r.format, round: r.round, events: total, "seconds (first to last commit)": r.seconds.toFixed(2), "events/s": Math.round(r.perSecond), "router CPU-µs/event": r.cpuUsPerEvent.toFixed(0) }));

  const tables = `${markdownTable(rows)}\n\n${markdownTable(disk)}\n\n${markdownTable(routerRows)}`;
  console.log(`\n${tables}`);
  record(
    "Change events: Avro with the schema registry against JSON",
    `npm run bench:avro -- --users ${users} --rounds ${rounds}`,
    tables,
    `The same ${total} changes (${Object.entries(counts).map(([t, c]) => `${t} ${c}`).join(", ")}) captured at once by two connectors of the stack's database, one with the JSON converter without schemas, one with the project's Avro config (Confluent wire format, Apicurio). Bytes are each message's key and value; on disk, the change topics' .log segments (uncompressed, as Connect's producer sends them). The router is the real rekey stage in this process, each round a fresh consumer group from the beginning, producing to the set's own events topic; CPU is this process's, which also ran the lag checks.`,
  );
} finally {
  for (const f of formats) await removePipeline(f);
  await admin.disconnect();
  await sql.end({ timeout: 1 });
}
