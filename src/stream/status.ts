import type { Metrics } from "../metrics";

/** What a stage is doing now: the answer /healthz and /metrics give. */
export interface StageState {
  state: "starting" | "running" | "waiting" | "stopped";
  /** The component it waits for (kafka, cassandra, redis), when waiting. */
  waitingFor?: string;
  /** When the current state began (ms). */
  since: number;
  detail?: string;
  restarts: number;
}

/** The state of one stage, updated by its supervisor and by its retry loops. */
export function createStageStatus(name: string, metrics: Metrics) {
  const state: StageState = { state: "starting", since: Date.now(), restarts: 0 };
  const up = metrics.gauge("feedline_stream_up", "1 while the stage consumes normally, 0 while it starts, waits for a component or is stopped.");
  const waiting = metrics.gauge("feedline_stream_waiting_seconds", "How long the stage has been waiting for a component (0 when it is not waiting).");
  const restarts = metrics.counter("feedline_stream_restarts_total", "Times the stage's consumer was rebuilt after a crash or a failed start.");
  let lastOn = "";
  metrics.collect(async () => {
    settle();
    up.set({ stage: name }, state.state === "running" ? 1 : 0);
    const on = state.state === "waiting" ? (state.waitingFor ?? "") : "";
    if (on !== lastOn) waiting.set({ stage: name, on: lastOn }, 0);
    lastOn = on;
    waiting.set({ stage: name, on }, on ? (Date.now() - state.since) / 1000 : 0);
  });
  const set = (next: Omit<StageState, "since" | "restarts">) => {
    if (state.state === next.state && state.waitingFor === next.waitingFor) {
      state.detail = next.detail;
      return;
    }
    if (next.state === "waiting" || state.state === "waiting") {
      console.warn(`[stream] ${name}: ${next.state === "waiting" ? `waiting for ${next.waitingFor}: ${next.detail}` : `${next.state} again after ${Math.round((Date.now() - state.since) / 1000)} s`}`);
    }
    Object.assign(state, { waitingFor: undefined, detail: undefined }, next, { since: Date.now() });
  };
  let lastWait = 0;
  let lastProgress = 0;
  /** When the stage last did anything: applied an event, committed, joined. */
  let lastActivity = Date.now();
  /**
   * One partition may commit while another still retries, so a wait ends at the first commit
   * after a few seconds without any retry (no flapping between the two).
   */
  const settle = () => {
    if (state.state !== "running" && state.state !== "stopped" && lastProgress > lastWait && Date.now() - lastWait > 5000) set({ state: "running" });
  };
  return {
    name,
    get: (): Readonly<StageState> => {
      settle();
      return state;
    },
    running: () => {
      lastActivity = Date.now();
      set({ state: "running" });
    },
    /** A batch committed. */
    progress: () => {
      lastProgress = lastActivity = Date.now();
      settle();
    },
    /** An event was applied (a batch may take long before it commits). */
    active: () => {
      lastActivity = Date.now();
    },
    /** Milliseconds since the stage last did anything. */
    idleMs: () => Date.now() - lastActivity,
    /** A retry loop or a crash: the stage waits for `component`. Keeps the first `since` of an ongoing wait. */
    waiting: (component: string, detail: string) => {
      lastWait = Date.now();
      set({ state: "waiting", waitingFor: component, detail });
    },
    stopped: () => set({ state: "stopped" }),
    restarted: () => {
      state.restarts++;
      restarts.inc({ stage: name });
    },
  };
}

export type StageStatus = ReturnType<typeof createStageStatus>;
