import { mkdirSync } from "node:fs";
import { createPostgres } from "../../../src/clients/postgres";
import type { StackContext } from "../context";
import { registryJava } from "../install";
import { type Component, daemon, jvmBase, withClient } from "./component";

/**
 * Apicurio Registry, the schema registry of the change events' Avro schemas: the runnable build
 * Apicurio publishes on Maven Central, on Java 21+. Its storage is its own database in the
 * stack's PostgreSQL, not memory: a schema id is written into every Avro message, so the ids must
 * outlive a restart of the registry, or the messages already in Kafka could no longer be read.
 * The API (with the Confluent-compatible `ccompat` one) is on FEEDLINE_REGISTRY_PORT, its health
 * on a management port of its own.
 */
export function registryComponent(ctx: StackContext): Component {
  const cfg = ctx.config.registry;
  const own = ctx.settings.registry;
  const d = daemon(ctx, "registry");
  const health = `http://${cfg.host}:${own.managementPort}/health/ready`;
  const probe = async () => {
    const res = await fetch(health, { signal: AbortSignal.timeout(3000) });
    const body = (await res.json().catch(() => ({}))) as { status?: string };
    if (!res.ok || body.status !== "UP") throw new Error(`${health} answered ${res.status} ${body.status ?? ""}`.trim());
  };
  const pg = ctx.config.postgres;

  /** The registry's database, made once (CREATE DATABASE cannot say IF NOT EXISTS). */
  const ensureDatabase = () =>
    withClient(
      () => createPostgres(pg, { max: 1 }),
      (sql) => sql.end({ timeout: 1 }),
      async (sql) => {
        const [found] = await sql`select 1 from pg_database where datname = ${own.database}`;
        if (!found) await sql.unsafe(`create database ${own.database}`);
      },
    );

  return {
    name: "registry",
    ports: [
      { port: cfg.port, variable: "FEEDLINE_REGISTRY_PORT" },
      { port: own.managementPort, variable: "FEEDLINE_REGISTRY_MANAGEMENT_PORT" },
    ],
    pid: d.pid,
    probe,
    log: d.log,
    readyTimeoutMs: 120_000,
    stop: d.stop,
    async start() {
      await ensureDatabase();
      mkdirSync(ctx.data("registry"), { recursive: true });
      await d.start(
        registryJava(ctx),
        [
          ...jvmBase(ctx, own.heap),
          `-Djava.io.tmpdir=${ctx.data("registry")}`,
          `-Dquarkus.http.host=${cfg.host}`,
          `-Dquarkus.http.port=${cfg.port}`,
          `-Dquarkus.management.host=${cfg.host}`,
          `-Dquarkus.management.port=${own.managementPort}`,
          "-Dapicurio.storage.kind=sql",
          "-Dapicurio.storage.sql.kind=postgresql",
          `-Dapicurio.datasource.url=jdbc:postgresql://${pg.host}:${pg.port}/${own.database}`,
          `-Dapicurio.datasource.username=${pg.user}`,
          `-Dapicurio.datasource.password=${pg.password}`,
          // A test run's namespace removes its topics' subjects when it is done.
          "-Dapicurio.rest.deletion.artifact.enabled=true",
          "-Dapicurio.rest.deletion.artifact-version.enabled=true",
          "-Dquarkus.log.console.json=false",
          "-jar", ctx.jars("registry", "quarkus-run.jar"),
        ],
        probe,
        120_000,
        ctx.childEnv(),
      );
    },
  };
}
