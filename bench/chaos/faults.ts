import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { createStackContext } from "../../deploy/stack/context";
import { createStack } from "../../deploy/stack/stack";
import type { Config } from "../../src/config";
import { type Service, startService } from "../pipeline";

/**
 * What the chaos suite can do to the system, and how each comes back:
 * - a stack component killed (SIGKILL of its process), brought back with the project's own
 *   command (`npm run stack -- up`, which starts only what is dead);
 * - the stream worker killed, brought back by starting it again, as a process supervisor would;
 * - pauses (SIGSTOP, then SIGCONT): the worker frozen past its session timeout while a second
 *   worker takes its partitions, so that it wakes as a stale member with a batch in hand; and
 *   Cassandra frozen for 30 s while the workers retry against it.
 */
export const targets = ["worker", "connect", "registry", "kafka", "cassandra", "redis", "postgres", "worker-pause", "cassandra-pause"] as const;
export type Target = (typeof targets)[number];

export interface Fault {
  target: Target;
  /** How it is done to the target: SIGKILL, or SIGSTOP for a pause. */
  signal: "SIGKILL" | "SIGSTOP";
  /** The least time it stays down, whatever the run's hold. */
  minHoldMs?: number;
  kill(): Promise<void>;
  /** Brings it back; resolves when the command that does so has finished. */
  restore(): Promise<void>;
  /** True once it answers requests again. */
  answers(): Promise<boolean>;
}

/** The stream worker process: one at a time, replaced on restore. */
export function workerFault(start: () => Promise<Service>, initial: Service) {
  let current = initial;
  return {
    worker: () => current,
    fault: {
      target: "worker" as const,
      signal: "SIGKILL" as const,
      async kill() {
        await current.kill();
      },
      async restore() {
        current = await start();
      },
      answers: async () => fetch(`${current.url}/healthz`).then(() => true, () => false),
    } satisfies Fault,
    /**
     * The worker frozen past its session timeout. A second worker joins first, so the group has
     * a member to give the partitions to; on waking, the frozen one goes on with whatever batch
     * it held (its lease has run out, its writes carry older write times), rejoins, and the
     * second one leaves.
     */
    pause(sessionTimeoutMs: number): Fault {
      let standIn: Service | undefined;
      return {
        target: "worker-pause",
        signal: "SIGSTOP",
        minHoldMs: sessionTimeoutMs + 4000,
        async kill() {
          standIn = await start();
          current.signal("SIGSTOP");
        },
        async restore() {
          current.signal("SIGCONT");
          await Bun.sleep(sessionTimeoutMs);
          await standIn?.stop();
        },
        answers: async () => fetch(`${current.url}/healthz`).then(() => true, () => false),
      };
    },
  };
}

/** A component of the local stack, killed. */
export function stackFault(config: Config, target: Exclude<Target, "worker" | "worker-pause" | "cassandra-pause">): Fault {
  const component = stackComponent(config, target);
  return {
    target,
    signal: "SIGKILL",
    async kill() {
      const pid = component.pid();
      if (pid === undefined) throw new Error(`${target} is not running (or was not started by the stack tool), so it cannot be killed`);
      process.kill(pid, "SIGKILL");
      while (component.pid() !== undefined) await Bun.sleep(50);
    },
    restore: () => stackUp(),
    answers: () => component.probe().then(() => true, () => false),
  };
}

/** Cassandra frozen (SIGSTOP) for at least 30 s: requests time out rather than fail, and the workers retry. */
export function cassandraPause(config: Config): Fault {
  const component = stackComponent(config, "cassandra");
  const signal = (s: "SIGSTOP" | "SIGCONT") => {
    const pid = component.pid();
    if (pid === undefined) throw new Error("cassandra is not running (or was not started by the stack tool), so it cannot be paused");
    process.kill(pid, s);
  };
  return {
    target: "cassandra-pause",
    signal: "SIGSTOP",
    minHoldMs: 30_000,
    kill: async () => signal("SIGSTOP"),
    restore: async () => signal("SIGCONT"),
    answers: () => component.probe().then(() => true, () => false),
  };
}

function stackComponent(config: Config, name: string) {
  const component = createStack(createStackContext(config)).components.find((c) => c.name === name);
  if (!component) throw new Error(`no stack component named ${name}`);
  return component;
}

/** `npm run stack -- up`, as an operator would run it; fails with its output if it fails. */
export function stackUp() {
  return new Promise<void>((done, fail) => {
    const child = spawn(process.execPath, [resolve(import.meta.dir, "../../deploy/stack/cli.ts"), "up"], { stdio: ["ignore", "pipe", "pipe"], env: process.env });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.once("exit", (code) => (code === 0 ? done() : fail(new Error(`npm run stack -- up exited with ${code}:\n${output.slice(-3000)}`))));
  });
}

/** Starts a stream worker process (`feedline serve --role worker`) for the suite, with extra environment if given. */
export const startWorkerService = (env: Record<string, string> = {}) =>
  startService({ role: "worker", env: { FEEDLINE_STREAM_SESSION_TIMEOUT_MS: String(workerSessionMs), ...env } });

/** The session timeout of the suite's workers. */
export const workerSessionMs = 6000;
