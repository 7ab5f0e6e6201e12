import { type ConnectorStatus, describeStates } from "./connect";
import type { SlotState } from "./slot";

/**
 * What the capture watchdog decides from one look at Connect and at the replication slot. Pure:
 * the loop (capture/index.ts) observes, calls `decide`, and carries out the actions.
 *
 * Rules, most certain first:
 * 1. A FAILED connector or task is restarted through the REST API (Connect never restarts a
 *    failed task by itself).
 * 2. A RUNNING task whose slot holder has stopped reading (WAL waiting to be sent, and the
 *    position sent not moving) for `stallMs` while Kafka answers is restarted: a live task
 *    only stops reading when Kafka pushes back, and Kafka answers.
 * 3. If, `graceMs` after that restart, the slot is still held by a connection opened before
 *    the restart, that connection provably belongs to a task instance Connect was told to stop
 *    (there is one task, and the new instance cannot own a connection older than itself). It
 *    is terminated, and the new instance takes the slot on its next try.
 * An inactive slot is reported, never acted on: Debezium holds no slot connection during a
 * snapshot, and restarting then would restart the snapshot.
 */
export interface Observation {
  /** Local clock (ms). */
  at: number;
  /** undefined: Connect does not answer, or the connector is not registered. */
  connector: ConnectorStatus | undefined;
  /** undefined: no slot yet (or PostgreSQL does not answer). */
  slot: SlotState | undefined;
  kafkaUp: boolean;
}

export interface Memory {
  lastSentLsn?: string | null;
  /** Local ms since the holder stopped reading; cleared when it reads again. */
  stalledSince?: number;
  /** Database clock (ms) of the last task restart the watchdog asked for. */
  restartedAt?: number;
  /** Local ms of the last action, for the cool-down. */
  actedAt?: number;
  /** Local ms since the slot has had no holder (or does not exist). */
  inactiveSince?: number;
}

export type Action = { kind: "restart-failed" } | { kind: "restart-task"; task: number } | { kind: "terminate"; pid: number };

export interface Settings {
  stallMs: number;
  graceMs: number;
  cooldownMs: number;
}

export const defaultSettings: Settings = { stallMs: 60_000, graceMs: 15_000, cooldownMs: 30_000 };

/** The actions to take now, the memory to keep, and what is wrong (for /healthz), if anything. */
export function decide(obs: Observation, memory: Memory, s: Settings = defaultSettings) {
  const next: Memory = { ...memory };
  const slot = obs.slot;
  const stalled = Boolean(slot?.active && (slot.unsentBytes ?? 0) > 0 && slot.sentLsn === memory.lastSentLsn);
  next.lastSentLsn = slot?.sentLsn ?? null;
  next.stalledSince = stalled ? (memory.stalledSince ?? obs.at) : undefined;
  next.inactiveSince = slot?.active ? undefined : (memory.inactiveSince ?? obs.at);
  const coolingDown = memory.actedAt !== undefined && obs.at - memory.actedAt < s.cooldownMs;
  const act = (action: Action, problem: string) => ({ actions: coolingDown ? [] : [action], memory: coolingDown ? next : { ...next, actedAt: obs.at }, problem });

  const status = obs.connector;
  if (!status) return { actions: [] as Action[], memory: next, problem: "the connector's status is unknown (Connect does not answer or the connector is not registered)" };
  const parts = [status.connector, ...status.tasks];
  if (parts.some((p) => p.state === "FAILED")) return act({ kind: "restart-failed" }, `connector ${describeStates(status)}`);
  if (status.tasks.length === 0 || parts.some((p) => p.state !== "RUNNING")) return { actions: [] as Action[], memory: next, problem: `connector ${describeStates(status)}` };
  // A slot without a holder is normal for a moment (a task restarting) or during a snapshot.
  const inactiveFor = next.inactiveSince === undefined ? 0 : obs.at - next.inactiveSince;
  const inactive = inactiveFor >= 30_000 ? `for ${Math.round(inactiveFor / 1000)} s (a snapshot, or the task is reconnecting)` : undefined;
  if (!slot) return { actions: [] as Action[], memory: next, problem: inactive && `no replication slot ${inactive}` };

  const stalledFor = next.stalledSince === undefined ? 0 : obs.at - next.stalledSince;
  if (stalled && slot.pid !== null && memory.restartedAt !== undefined && slot.backendStart !== null) {
    const opened = slot.backendStart.getTime();
    if (opened < memory.restartedAt && slot.dbNow.getTime() - memory.restartedAt >= s.graceMs) {
      return act({ kind: "terminate", pid: slot.pid }, `slot held by walsender ${slot.pid}, opened before the task was restarted and not reading`);
    }
  }
  if (stalledFor >= s.stallMs && obs.kafkaUp) {
    const task = status.tasks[0]!.id;
    const decided = act({ kind: "restart-task", task }, `slot holder ${slot.pid} has not read for ${Math.round(stalledFor / 1000)} s`);
    if (decided.actions.length) decided.memory.restartedAt = slot.dbNow.getTime();
    return decided;
  }
  if (!slot.active) return { actions: [] as Action[], memory: next, problem: inactive && `the replication slot has no reader ${inactive}` };
  if (stalledFor > 0) return { actions: [] as Action[], memory: next, problem: `slot holder ${slot.pid} has not read for ${Math.round(stalledFor / 1000)} s` };
  return { actions: [] as Action[], memory: next, problem: undefined };
}
