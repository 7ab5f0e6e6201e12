import { readFileSync, readdirSync } from "node:fs";
import type { ITopicConfig } from "kafkajs";
import { createCassandra } from "../../src/clients/cassandra";
import { capturedTables, changeTopic, createKafka } from "../../src/clients/kafka";
import { createPostgres } from "../../src/clients/postgres";
import { withClient } from "./components/component";
import type { StackContext } from "./context";
import { StackError } from "./errors";
import { note } from "./progress";

/** Migration files of a directory, in version order: `NNN_name.ext`. */
function migrationFiles(dir: string) {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.(sql|cql)$/.test(f))
    .sort()
    .map((file) => ({ version: Number.parseInt(file, 10), file, text: readFileSync(`${dir}/${file}`, "utf8") }));
}

/** Applies the PostgreSQL migrations not yet recorded in schema_migrations, each in its own transaction. */
export function migratePostgres(ctx: StackContext) {
  return withClient(
    () => createPostgres(ctx.config.postgres, { max: 1 }),
    (sql) => sql.end({ timeout: 1 }),
    async (sql) => {
      await sql`create table if not exists schema_migrations (version int primary key, name text not null, applied_at timestamptz not null default now())`;
      const applied = new Set((await sql`select version from schema_migrations`).map((r) => r.version as number));
      for (const m of migrationFiles(ctx.deploy("postgres", "migrations"))) {
        if (applied.has(m.version)) continue;
        await sql.begin(async (tx) => {
          await tx.unsafe(m.text);
          await tx`insert into schema_migrations (version, name) values (${m.version}, ${m.file})`;
        });
        note(`applied ${m.file}`);
      }
    },
  );
}

/** Creates the keyspace and applies the CQL migrations not yet recorded in its schema_migrations table. */
export function migrateCassandra(ctx: StackContext) {
  const cfg = ctx.config.cassandra;
  return withClient(
    () => createCassandra(cfg, { keyspace: false }),
    (c) => c.shutdown(),
    async (c) => {
      await c.execute(
        `CREATE KEYSPACE IF NOT EXISTS ${cfg.keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': ${cfg.replicationFactor}}`,
      );
      await c.execute(`CREATE TABLE IF NOT EXISTS ${cfg.keyspace}.schema_migrations (version int PRIMARY KEY, name text, applied_at timestamp)`);
      const applied = new Set((await c.execute(`SELECT version FROM ${cfg.keyspace}.schema_migrations`)).rows.map((r) => r.version as number));
      for (const m of migrationFiles(ctx.deploy("cassandra", "migrations"))) {
        if (applied.has(m.version)) continue;
        // CQL has no multi-statement execution: run each statement; all are IF NOT EXISTS, so a re-run is harmless.
        const statements = m.text.replace(/--.*$/gm, "").split(";").map((s) => s.trim()).filter(Boolean);
        for (const statement of statements) {
          await c.execute(statement.replace(/\b(TABLE|INDEX|TYPE)( IF NOT EXISTS)? (?!\w+\.)/i, `$1$2 ${cfg.keyspace}.`));
        }
        await c.execute(`INSERT INTO ${cfg.keyspace}.schema_migrations (version, name, applied_at) VALUES (?, ?, toTimestamp(now()))`, [m.version, m.file]);
        note(`applied ${m.file}`);
      }
    },
  );
}

const day = 24 * 60 * 60 * 1000;

/**
 * The topics this design relies on, created explicitly (the broker has auto-creation off).
 * Change topics are compacted: keyed by primary key, the log keeps each row's latest change, so a
 * new consumer group can rebuild every feed from the topics alone; min.compaction.lag keeps a
 * day of full history for consumers that lag. The connector writes no tombstones
 * (`tombstones.on.delete=false`), so a deleted row's latest change is its delete event, which
 * compaction keeps: a consumer however far behind still reads every delete. See docs/operations.md.
 */
export function plannedTopics(ctx: StackContext): ITopicConfig[] {
  const k = ctx.config.kafka;
  const change = (topic: string): ITopicConfig => ({
    topic,
    numPartitions: k.partitions,
    replicationFactor: k.replicationFactor,
    configEntries: [
      { name: "cleanup.policy", value: "compact" },
      { name: "min.compaction.lag.ms", value: String(day) },
      { name: "delete.retention.ms", value: String(day) },
      { name: "segment.ms", value: String(day) },
    ],
  });
  return [
    ...capturedTables.map((t) => change(changeTopic(k, t))),
    {
      // Debezium emits the signalling table's own changes here; nothing consumes them.
      topic: `${k.topicPrefix}.public.debezium_signal`,
      numPartitions: 1,
      replicationFactor: k.replicationFactor,
      configEntries: [
        { name: "cleanup.policy", value: "delete" },
        { name: "retention.ms", value: String(day) },
      ],
    },
    {
      // The router re-keys every change by user onto this topic; the feed worker consumes it.
      topic: `${k.topicPrefix}.events`,
      numPartitions: k.partitions,
      replicationFactor: k.replicationFactor,
      configEntries: [
        { name: "cleanup.policy", value: "delete" },
        { name: "retention.ms", value: String(7 * day) },
      ],
    },
    {
      topic: `${k.topicPrefix}.dlq`,
      numPartitions: 1,
      replicationFactor: k.replicationFactor,
      configEntries: [
        { name: "cleanup.policy", value: "delete" },
        { name: "retention.ms", value: String(14 * day) },
      ],
    },
    {
      topic: `__debezium-heartbeat.${k.topicPrefix}`,
      numPartitions: 1,
      replicationFactor: k.replicationFactor,
      configEntries: [
        { name: "cleanup.policy", value: "delete" },
        { name: "retention.ms", value: String(day) },
      ],
    },
  ];
}

/** Creates the planned topics that do not exist; reports existing ones whose partition count differs. */
export function ensureTopics(ctx: StackContext) {
  return withClient(
    () => createKafka(ctx.config.kafka, "feedline-stack", { quiet: true }).admin(),
    (a) => a.disconnect(),
    async (admin) => {
      await admin.connect();
      const planned = plannedTopics(ctx);
      const existing = new Set(await admin.listTopics());
      const missing = planned.filter((t) => !existing.has(t.topic));
      if (missing.length > 0) {
        await admin.createTopics({ topics: missing, waitForLeaders: true });
        note(`created ${missing.map((t) => t.topic).join(", ")}`);
      }
      const present = planned.filter((t) => existing.has(t.topic));
      if (present.length > 0) {
        const meta = await admin.fetchTopicMetadata({ topics: present.map((t) => t.topic) });
        for (const t of meta.topics) {
          const want = planned.find((p) => p.topic === t.name)?.numPartitions;
          if (want !== t.partitions.length) note(`warning: ${t.name} has ${t.partitions.length} partitions, configured ${want}`);
        }
      }
    },
  );
}

/**
 * Asks Debezium for an incremental snapshot of the given tables (all captured ones by default)
 * through its signalling table: every row is re-emitted as op=r while streaming goes on, and the
 * workers rebuild whatever derived state was lost. Returns the signal's id.
 */
export function requestSnapshot(ctx: StackContext, tables: readonly string[] = capturedTables) {
  const unknown = tables.filter((t) => !(capturedTables as readonly string[]).includes(t));
  if (unknown.length) throw new StackError(`not a captured table: ${unknown.join(", ")} (captured: ${capturedTables.join(", ")})`);
  const id = `snapshot-${crypto.randomUUID()}`;
  const data = JSON.stringify({ "data-collections": tables.map((t) => `public.${t}`), type: "incremental" });
  return withClient(
    () => createPostgres(ctx.config.postgres, { max: 1 }),
    (sql) => sql.end({ timeout: 1 }),
    async (sql) => {
      await sql`insert into debezium_signal (id, type, data) values (${id}, 'execute-snapshot', ${data})`;
      return id;
    },
  );
}
