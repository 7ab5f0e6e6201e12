import { existsSync, realpathSync, rmSync } from "node:fs";
import { cassandraComponent } from "./components/cassandra";
import type { Component } from "./components/component";
import { connectComponent } from "./components/connect";
import { kafkaComponent } from "./components/kafka";
import { postgresComponent } from "./components/postgres";
import { redisComponent } from "./components/redis";
import { registryComponent } from "./components/registry";
import type { StackContext } from "./context";
import { ensureJars, ensureJava, ensurePackages } from "./install";
import { note, step } from "./progress";
import { ensurePortFree, logTail, waitReady } from "./proc";
import { ensureStackSecret } from "./secret";
import { setupSteps } from "./setup";
import { describeCapture } from "./setup/connector";
import { dropReplicationSlot } from "./setup/slot";

/** The components in start order, each followed by the set-up that needs it. JVMs start one at a time. */
export function createStack(ctx: StackContext) {
  const postgres = postgresComponent(ctx);
  const redis = redisComponent(ctx);
  const kafka = kafkaComponent(ctx);
  const registry = registryComponent(ctx);
  const connect = connectComponent(ctx);
  const cassandra = cassandraComponent(ctx);
  const components = [postgres, redis, kafka, registry, connect, cassandra];
  const setUp = setupSteps(ctx);

  /**
   * Starts whatever is not running (checking its ports first), applies schemas; returns the names
   * it started. `started` is filled as it goes, so a caller still knows them when a later step fails.
   */
  async function up(started: string[] = []) {
    // Port clashes are found before anything is installed or started.
    for (const c of components) {
      if (c.pid() === undefined) for (const p of c.ports) await ensurePortFree(p.port, p.variable, c.name);
    }
    ensureJava(ctx);
    await ensurePackages(ctx);
    await ensureJars(ctx);
    ensureStackSecret();
    for (const c of components) {
      const pid = c.pid();
      if (pid !== undefined) {
        // It may still be starting (an interrupted `up`): wait for it as a fresh start would.
        const ready = () =>
          waitReady({ name: c.name, check: c.probe, alive: () => c.pid() !== undefined, log: c.log, timeoutMs: c.readyTimeoutMs });
        await step(`${c.name} already running (pid ${pid}): checking it answers`, ready);
      } else {
        await step(`starting ${c.name} on port ${c.ports[0]!.port}`, c.start);
        started.push(c.name);
      }
      const s = setUp[c.name];
      if (s) await step(s.label, s.run);
    }
    return started;
  }

  /**
   * The set-up alone, on components something else runs (docker-compose.yml's one-shot `setup`
   * service): waits until each answers at its configured address, then sets it up. Starts nothing.
   */
  async function setup() {
    for (const c of components) {
      const s = setUp[c.name];
      if (!s) continue;
      await step(`waiting for ${c.name} to answer`, () =>
        waitReady({ name: c.name, check: c.probe, alive: () => true, timeoutMs: c.readyTimeoutMs }),
      );
      await step(s.label, s.run);
    }
  }

  /** Stops our processes (all, or the named ones) in reverse order, dropping the slot before PostgreSQL goes. */
  async function down(only?: string[]) {
    const chosen = (c: Component) => !only || only.includes(c.name);
    for (const c of [...components].reverse()) {
      if (!chosen(c)) continue;
      if (c.name === "postgres" && c.pid() !== undefined) {
        await step("dropping the Debezium replication slot", () => dropReplicationSlot(ctx)).catch((err) => note(String(err.message ?? err)));
      }
      const pid = c.pid();
      if (pid === undefined) {
        note(`${c.name} is not running`);
        continue;
      }
      await step(`stopping ${c.name} (pid ${pid})`, c.stop);
    }
  }

  /** Each component's state; `ok` only when every one answers and the connector is RUNNING (with its slot's reader and lag). */
  async function status() {
    const rows = await Promise.all(
      components.map(async (c) => {
        const pid = c.pid();
        if (pid === undefined) return { name: c.name, pid, ok: false, detail: "not running" };
        try {
          await c.probe();
          return { name: c.name, pid, ok: true, detail: c.name === "connect" ? `ready; ${await describeCapture(ctx)}` : "ready" };
        } catch (err) {
          return { name: c.name, pid, ok: false, detail: (err as Error).message };
        }
      }),
    );
    return { ok: rows.every((r) => r.ok), rows };
  }

  function logs(name?: string, lines = 40) {
    for (const c of components) {
      if (name && c.name !== name) continue;
      console.log(`==> ${c.log} <==\n${logTail(c.log, lines)}\n`);
    }
  }

  /** Stops everything and deletes data, config and logs (keeps the fetched jars). */
  async function reset() {
    await down();
    const pgHome = `${ctx.root}/postgres`;
    if (existsSync(pgHome)) rmSync(realpathSync(pgHome), { recursive: true, force: true });
    for (const dir of ["postgres", "data", "conf", "logs", "run"]) rmSync(`${ctx.root}/${dir}`, { recursive: true, force: true });
    note(`removed data, config and logs under ${ctx.root} (jars kept)`);
  }

  return { components, up, setup, down, status, logs, reset };
}
