import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { createStackContext } from "../../deploy/stack/context";
import { createStack } from "../../deploy/stack/stack";
import type { Config } from "../../src/config";
import { type Service, startService } from "../pipeline";

/**
 * What the chaos suite can kill, and how each comes back: a stack component by SIGKILL of its
 * process, brought back with the project's own command (`npm run stack -- up`, which starts only
 * what is dead); the stream worker by SIGKILL, brought back by starting it again, as a process
 * supervisor would.
 */
export const targets = ["worker", "connect", "kafka", "cassandra", "redis", "postgres"] as const;
export type Target = (typeof targets)[number];

export interface Fault {
  target: Target;
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
      async kill() {
        current.process.kill("SIGKILL");
        await new Promise((r) => (current.process.exitCode !== null ? r(null) : current.process.once("exit", r)));
      },
      async restore() {
        current = await start();
      },
      answers: async () => fetch(`${current.url}/healthz`).then(() => true, () => false),
    } satisfies Fault,
  };
}

/** A component of the local stack. */
export function stackFault(config: Config, target: Exclude<Target, "worker">): Fault {
  const component = createStack(createStackContext(config)).components.find((c) => c.name === target);
  if (!component) throw new Error(`no stack component named ${target}`);
  return {
    target,
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

/** Starts a stream worker process (`feedline serve --role worker`) for the suite. */
export const startWorkerService = () => startService({ role: "worker", env: { FEEDLINE_STREAM_SESSION_TIMEOUT_MS: "6000" } });
