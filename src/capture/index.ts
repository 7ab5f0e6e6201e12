import type { Config } from "../config";
import type { Metrics } from "../metrics";
import { createPostgres } from "../clients/postgres";
import { createConnectClient } from "./connect";
import { readSlot, terminateBackend } from "./slot";
import { type Action, decide, defaultSettings, type Memory, type Observation, type Settings } from "./watchdog";

/**
 * The capture watchdog, run by every stream worker: every few seconds it reads the connector's
 * status and the replication slot, exports both as metrics, and (in the one process holding a
 * PostgreSQL advisory lock, so several workers never act twice) carries out what `decide`
 * says. It has its own one-connection PostgreSQL client: the lock lives with that session, and
 * the API's pool keeps all its connections.
 */
export function startCaptureWatchdog(deps: { config: Config; metrics: Metrics; kafkaUp: () => Promise<boolean>; intervalMs?: number; settings?: Settings }) {
  const { config, metrics, kafkaUp } = deps;
  const settings = deps.settings ?? defaultSettings;
  const sql = createPostgres(config.postgres, { max: 1 });
  const connect = createConnectClient(config.connect.url, config.connect.connector);
  const slotName = config.connect.slot;
  const lockKey = 0x66656564; // "feed": one watchdog acts at a time
  const lag = metrics.gauge("feedline_replication_slot_lag_bytes", "WAL the Debezium slot pins: current position minus the position the connector confirmed.");
  const active = metrics.gauge("feedline_replication_slot_active", "1 while a walsender holds the Debezium slot.");
  const running = metrics.gauge("feedline_connector_running", "1 while the connector (part=connector) or a task (part=task-N) is RUNNING.");
  const actions = metrics.counter("feedline_capture_actions_total", "Repairs the capture watchdog carried out, by action.");
  let memory: Memory = {};
  let problem: string | undefined = "not checked yet";
  let leading = false;
  let stopped = false;

  async function observe(): Promise<Observation> {
    const [connector, slot, kafka] = await Promise.all([
      connect.status().catch(() => undefined),
      readSlot(sql, slotName).catch(() => undefined),
      kafkaUp().catch(() => false),
    ]);
    return { at: Date.now(), connector, slot, kafkaUp: kafka };
  }

  function export_(obs: Observation) {
    if (obs.slot) {
      lag.set({ slot: slotName }, obs.slot.lagBytes);
      active.set({ slot: slotName }, obs.slot.active ? 1 : 0);
    }
    if (obs.connector) {
      running.set({ part: "connector" }, obs.connector.connector.state === "RUNNING" ? 1 : 0);
      for (const t of obs.connector.tasks) running.set({ part: `task-${t.id}` }, t.state === "RUNNING" ? 1 : 0);
    }
  }

  /** True while this process holds the watchdog lock (taken again after PostgreSQL restarts). */
  async function lead() {
    try {
      if (leading) await sql`select 1`;
      else leading = Boolean((await sql`select pg_try_advisory_lock(${lockKey}) as ok`)[0]?.ok);
    } catch {
      leading = false; // the session (and the lock with it) is gone; try again next tick
    }
    return leading;
  }

  async function carryOut(action: Action) {
    const label = action.kind === "terminate" ? `terminating walsender ${action.pid}` : action.kind === "restart-task" ? `restarting task ${action.task}` : "restarting the failed connector/tasks";
    console.warn(`[capture] ${problem}: ${label}`);
    if (action.kind === "restart-failed") await connect.restartFailed();
    else if (action.kind === "restart-task") await connect.restartTask(action.task);
    else await terminateBackend(sql, action.pid);
    actions.inc({ action: action.kind });
  }

  async function tick() {
    const obs = await observe();
    export_(obs);
    const decided = decide(obs, memory, settings);
    problem = decided.problem;
    if (!(await lead())) {
      memory = { ...decided.memory, actedAt: memory.actedAt, restartedAt: memory.restartedAt };
      return;
    }
    memory = decided.memory;
    for (const action of decided.actions) await carryOut(action).catch((err) => console.warn(`[capture] ${action.kind} failed: ${(err as Error).message}`));
  }

  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      await tick().catch((err) => console.warn(`[capture] watchdog tick failed: ${(err as Error).message}`));
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, deps.intervalMs ?? 5000);
      });
    }
  })();

  return {
    /** For /healthz: what is wrong with capture, if anything. */
    check: async () => {
      if (problem) throw new Error(problem);
    },
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      await sql.end({ timeout: 2 });
    },
  };
}
