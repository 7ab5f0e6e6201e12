import type { Admin } from "kafkajs";
import { assertRunning, createConnectClient } from "./capture/connect";
import type { CassandraClient } from "./clients/cassandra";
import type { Sql } from "./clients/postgres";
import type { RedisClient } from "./clients/redis";

/** One readiness probe per component: resolves when the component really answers, throws otherwise. */
export const probes = {
  postgres: async (sql: Sql) => {
    await sql`select 1`;
  },
  redis: async (redis: RedisClient) => {
    const pong = await redis.ping();
    if (pong !== "PONG") throw new Error(`unexpected PING reply ${pong}`);
  },
  kafka: async (admin: Admin) => {
    await admin.connect(); // a no-op when already connected
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0) throw new Error("no broker in cluster metadata");
  },
  connect: async (url: string, connector?: string) => {
    if (!connector) {
      const res = await fetch(`${url}/connectors`, { signal: AbortSignal.timeout(3000) });
      if (!res.ok) throw new Error(`GET /connectors answered ${res.status}`);
      return;
    }
    assertRunning(connector, await createConnectClient(url, connector).status());
  },
  /** The schema registry's Confluent-compatible API, which the router reads schemas through. */
  registry: async (ccompatUrl: string) => {
    const res = await fetch(`${ccompatUrl}/subjects`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) throw new Error(`GET /subjects answered ${res.status}`);
    await res.arrayBuffer();
  },
  cassandra: async (client: CassandraClient) => {
    await client.execute("SELECT release_version FROM system.local");
  },
};

export type ComponentHealth = { ok: true; ms: number } | { ok: false; ms: number; error: string };

/** Runs named checks concurrently, each bounded by a timeout, and reports every component's state. */
export async function checkHealth(checks: Record<string, () => Promise<void>>, timeoutMs = 3000) {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<[string, ComponentHealth]> => {
      const started = performance.now();
      try {
        await withTimeout(check(), timeoutMs);
        return [name, { ok: true, ms: Math.round(performance.now() - started) }];
      } catch (err) {
        const ms = Math.round(performance.now() - started);
        return [name, { ok: false, ms, error: err instanceof Error ? err.message : String(err) }];
      }
    }),
  );
  const components = Object.fromEntries(entries);
  return { ok: entries.every(([, h]) => h.ok), components };
}

export type HealthReport = Awaited<ReturnType<typeof checkHealth>>;

/** The health a public endpoint shows: which components answer, without timings or internal error text. */
export type PublicHealth = { ok: boolean; components: Record<string, { ok: boolean }> };

/**
 * `report` for anyone: at most one live check per `ttlMs` however many ask (concurrent callers
 * share the check in flight), and only up/down per component.
 */
export function publicHealth(report: () => Promise<HealthReport>, ttlMs = 2000) {
  let last: { at: number; value: Promise<PublicHealth> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at >= ttlMs) {
      const value = report().then((r) => ({ ok: r.ok, components: Object.fromEntries(Object.entries(r.components).map(([name, h]) => [name, { ok: h.ok }])) }));
      last = { at: now, value };
      value.catch(() => (last = undefined));
    }
    return last.value;
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
