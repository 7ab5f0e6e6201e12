import { readFileSync, readdirSync } from "node:fs";
import { createCassandra } from "../../../src/clients/cassandra";
import { createPostgres } from "../../../src/clients/postgres";
import { withClient } from "../components/component";
import type { StackContext } from "../context";
import { note } from "../progress";

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
