import { readFileSync } from "node:fs";
import { assertRunning, type ConnectorStatus, createConnectClient } from "../../../src/capture/connect";
import { capturedTables, signalTable } from "../../../src/names";
import type { StackContext } from "../context";
import { StackError } from "../errors";
import { note } from "../progress";
import { logTail, sleep } from "../proc";
import { slotState } from "./slot";

/** The Debezium connector: its config, its registration, the wait for it to stream, and its state for `status`. */

/** A table as Debezium names it in include lists and signals: `<schema>.<table>`. */
export const collection = (table: string) => `public.${table}`;

/**
 * The connector as registered: deploy/connectors/feedline-postgres.json with the fields that
 * derive from src/config.ts added, so the file cannot disagree with it: the captured tables and
 * the signalling table, the names of one pipeline (the connector, its database, topic prefix,
 * replication slot and publication), and the schema registry's address. Literal values rather than `${env:…}` references, since
 * Connect's environment is fixed when it starts and `npm test` registers a connector of its own
 * namespace on the same worker. The file must not set those fields itself.
 */
export function connectorConfig(ctx: StackContext): { name: string; config: Record<string, string> } {
  const file = ctx.deploy("connectors", "feedline-postgres.json");
  const { config } = JSON.parse(readFileSync(file, "utf8")) as { config: Record<string, string> };
  const { postgres, kafka, connect, registry } = ctx.config;
  const derived = {
    "database.dbname": postgres.database,
    "topic.prefix": kafka.topicPrefix,
    "slot.name": connect.slot,
    "publication.name": connect.publication,
    // With publication.autocreate.mode=filtered, the publication holds exactly these tables too.
    "table.include.list": [...capturedTables, signalTable].map(collection).join(","),
    "signal.data.collection": collection(signalTable),
    // The Avro converters register each schema in the registry (its v2 API, which the converter speaks).
    "key.converter.apicurio.registry.url": `${registry.url}/apis/registry/v2`,
    "value.converter.apicurio.registry.url": `${registry.url}/apis/registry/v2`,
  };
  const clash = Object.keys(derived).filter((k) => k in config);
  if (clash.length) throw new StackError(`${file} sets ${clash.join(", ")}: the stack tool derives them (deploy/stack/setup/connector.ts)`);
  return { name: connect.connector, config: { ...config, ...derived } };
}

/**
 * Registers the connector with PUT (create or update, repeatable) only when its config differs,
 * so `up` on a running stack restarts nothing; retries while Connect rebalances (409); waits
 * until it is RUNNING.
 */
export async function registerConnector(ctx: StackContext) {
  const { url } = ctx.config.connect;
  const { name, config } = connectorConfig(ctx);
  const current = await fetch(`${url}/connectors/${name}/config`);
  const currentConfig = current.ok ? ((await current.json()) as Record<string, string>) : undefined;
  const same = currentConfig && Object.entries(config).every(([k, v]) => currentConfig[k] === v) && Object.keys(currentConfig).length === Object.keys(config).length + 1;
  if (!same) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await fetch(`${url}/connectors/${name}/config`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(config),
      });
      if (res.ok) break;
      const body = await res.text();
      if ((res.status === 409 || res.status >= 500) && Date.now() < deadline) {
        await sleep(1000);
        continue;
      }
      throw new StackError(`registering connector ${name} failed: ${res.status} ${body}`);
    }
    note(`connector ${name} ${currentConfig ? "updated" : "registered"}`);
  }
  await waitStreaming(ctx);
}

/**
 * Waits until the connector and its task are RUNNING. A FAILED task is restarted once (Connect
 * never does it by itself). Rather than a fixed deadline, it gives up only after `stallMs` with
 * no progress at all: neither the states nor the slot's confirmed position changed.
 */
export async function waitStreaming(ctx: StackContext, stallMs = 120_000) {
  const connect = createConnectClient(ctx.config.connect.url, ctx.config.connect.connector);
  let last = "";
  let progressAt = Date.now();
  let restarted = false;
  let lastError = "";
  for (;;) {
    const [status, slot] = await Promise.all([connect.status().catch((e: Error) => e), slotState(ctx).catch(() => undefined)]);
    try {
      assertRunning(connect.connector, status instanceof Error ? undefined : status);
      return;
    } catch (err) {
      lastError = status instanceof Error ? status.message : (err as Error).message;
    }
    if (!(status instanceof Error) && hasFailed(status) && !restarted) {
      note(`${lastError}: restarting it`);
      await connect.restartFailed();
      restarted = true;
    }
    const now = JSON.stringify([status instanceof Error ? status.message : status, slot?.lagBytes]);
    if (now !== last) [last, progressAt] = [now, Date.now()];
    if (Date.now() - progressAt > stallMs) {
      throw new StackError(`connector ${connect.connector} made no progress for ${stallMs / 1000} s (${lastError}). Last lines of ${ctx.log("connect")}:\n${logTail(ctx.log("connect"))}`);
    }
    await sleep(1000);
  }
}

const hasFailed = (s: ConnectorStatus | undefined) => Boolean(s && [s.connector, ...s.tasks].some((p) => p.state === "FAILED"));

/** One line for `status`: the connector's and task's states, and the slot's reader and lag. */
export async function describeCapture(ctx: StackContext) {
  const connect = createConnectClient(ctx.config.connect.url, ctx.config.connect.connector);
  const [status, slot] = await Promise.all([connect.status(), slotState(ctx).catch(() => undefined)]);
  assertRunning(connect.connector, status);
  const slotText = slot ? `slot ${slot.active ? `read by pid ${slot.pid}` : "without a reader"}, lag ${formatBytes(slot.lagBytes)}` : "no slot";
  return `connector and task RUNNING; ${slotText}`;
}

const formatBytes = (n: number) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);
