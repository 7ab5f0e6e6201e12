import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { freePort } from "../../deploy/stack/proc";
import { homeOracle } from "../../bench/oracle";
import type { Services } from "../../src/services";
import { eventually, stackConfig } from "./stack";

/**
 * The whole pipeline for tests: a real worker process (`feedline serve --role worker`) consuming
 * the real topics, the SQL oracle of FEED-SPEC, and waits on convergence with a deadline.
 */

export interface WorkerProcess {
  child: ChildProcess;
  port: number;
  output: () => string;
  /** Stops it: SIGTERM for a clean shutdown, SIGKILL for a crash. */
  kill(signal: "SIGTERM" | "SIGKILL"): Promise<void>;
}

/** Starts a worker process (with extra environment, if given) and waits until its /healthz is green (consumers joined). */
export async function startWorker(env: Record<string, string> = {}): Promise<WorkerProcess> {
  await stackConfig();
  const port = await freePort();
  let output = "";
  const child = spawn(process.execPath, [resolve(import.meta.dir, "../../src/main.ts"), "serve", "--role", "worker"], {
    env: { ...process.env, FEEDLINE_API_PORT: String(port), KAFKAJS_NO_PARTITIONER_WARNING: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  child.once("exit", () => running.delete(child));
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  await eventually(
    "the worker to report healthy",
    async () => {
      if (child.exitCode !== null) throw new Error(`worker exited (${child.exitCode}):\n${output}`);
      const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
      return res?.ok ? true : undefined;
    },
    60_000,
  );
  return {
    child,
    port,
    output: () => output,
    async kill(signal) {
      if (child.exitCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Every worker still running: stopped after the last test file (tests/support/teardown.ts). */
const running = new Set<ChildProcess>();

export function killAllWorkers() {
  for (const child of running) child.kill("SIGKILL");
}
process.on("exit", killAllWorkers);

let shared: Promise<WorkerProcess> | undefined;

/** One worker for the whole test run, started on first use. */
export function sharedWorker() {
  shared ??= startWorker();
  return shared;
}

/** Stops the shared worker, if one runs: the next sharedWorker() starts a fresh one. */
export async function stopSharedWorker() {
  const worker = await shared?.catch(() => undefined);
  shared = undefined;
  await worker?.kill("SIGTERM");
}

/** Replaces the shared worker (after a test killed it). */
export function setSharedWorker(worker: Promise<WorkerProcess>) {
  shared = worker;
}

/** FEED-SPEC's home feed of a user, computed from PostgreSQL (bench/oracle.ts). */
export const oracle = (services: Services, userId: string) => homeOracle(services.sql, userId);

/** The user's home feed as Cassandra holds it, ids newest first. */
export async function feedIds(services: Services, userId: string) {
  return (await services.feeds.feed(userId, 10_000)).map((i) => i.id);
}

/** Waits until every user's feed equals the oracle; on timeout, fails showing the first difference. */
export async function expectConverged(services: Services, userIds: string[], timeoutMs = 60_000) {
  let last = "";
  try {
    await eventually(
      "every feed to equal the oracle",
      async () => {
        for (const u of userIds) {
          const [want, got] = await Promise.all([oracle(services, u), feedIds(services, u)]);
          if (JSON.stringify(want) !== JSON.stringify(got)) {
            last = `user ${u}:\n  oracle: ${JSON.stringify(want)}\n  feed:   ${JSON.stringify(got)}`;
            return undefined;
          }
        }
        return true;
      },
      timeoutMs,
    );
  } catch (err) {
    // The shared worker's own log, when it runs: what it was doing is usually why.
    const worker = await shared?.catch(() => undefined);
    const log = worker ? `\n--- shared worker (${worker.child.exitCode === null ? "running" : `exited ${worker.child.exitCode}`}), last lines:\n${worker.output().slice(-3000)}` : "";
    throw new Error(`${(err as Error).message}\n${last}${log}`);
  }
}
