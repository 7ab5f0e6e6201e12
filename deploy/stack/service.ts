import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { type Config, loadConfig } from "../../src/config";
import { createStackContext } from "./context";
import { StackError } from "./errors";
import { freePort, sleep } from "./proc";

/**
 * The service (`bun src/main.ts serve --role <role>`) as a child process, the one way the tests
 * and the benchmarks run it: started against the stack's addresses, ready once /healthz says so,
 * its output kept or passed through, signalled by pid, and stopped (SIGTERM, then SIGKILL).
 */

export type Role = "api" | "worker" | "all";

export interface ServiceOptions {
  role?: Role;
  /** Extra environment for the child, over the stack's (FEEDLINE_STREAM_APPLY_DELAY_MS, say). */
  env?: Record<string, string>;
  /** Whose addresses the child is given; loadConfig() when absent. */
  config?: Config;
  /** The port to listen on; a free one when absent. */
  port?: number;
  /**
   * When launchService() returns: "healthy" once /healthz answers 200 (every component up and, for a
   * worker, its stages joined to their consumer groups); "answering" once it answers at all.
   */
  ready?: "healthy" | "answering";
  /** How long it may take to be ready (default 60 s). */
  timeoutMs?: number;
  /** How long stop() waits after SIGTERM before it sends SIGKILL (default 30 s). */
  stopGraceMs?: number;
  /**
   * "keep": all of stdout and stderr kept for output(). "forward": stderr passed through to ours
   * as it comes, stdout dropped, and only the last 64 KiB of both kept.
   */
  output?: "keep" | "forward";
  /** Flags for Bun itself, before the script (`--cpu-prof-md`, say). */
  runtimeArgs?: string[];
}

export type ServiceProcess = Awaited<ReturnType<typeof launchService>>;

/** Starts the service and waits until it is ready; on failure it is killed and the error shows its last output lines. */
export async function launchService(opts: ServiceOptions = {}) {
  const role = opts.role ?? "all";
  const port = opts.port ?? (await freePort());
  const adminPort = await freePort();
  const { cmd, args, env } = serviceCommand({ config: opts.config ?? loadConfig(), role, port, adminPort, env: opts.env, runtimeArgs: opts.runtimeArgs });
  const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  const service = watch(child, { output: opts.output ?? "forward", stopGraceMs: opts.stopGraceMs ?? 30_000 }, {
    role,
    port,
    adminPort,
    name: `feedline serve --role ${role} (pid ${child.pid}, port ${port}, admin ${adminPort})`,
  });
  if (child.pid === undefined) throw new StackError(`could not start ${cmd} ${args.join(" ")}`);
  await untilReady(service, opts.ready ?? "healthy", opts.timeoutMs ?? 60_000);
  return service;
}

/** The command line and environment of the service: the stack's child environment, then `env`, then the ports it is watched on. */
export function serviceCommand(o: { config: Config; role: Role; port: number; adminPort: number; env?: Record<string, string>; runtimeArgs?: string[] }) {
  return {
    cmd: process.execPath,
    args: [...(o.runtimeArgs ?? []), resolve(import.meta.dir, "../../src/main.ts"), "serve", "--role", o.role],
    env: {
      ...createStackContext(o.config).childEnv(),
      KAFKAJS_NO_PARTITIONER_WARNING: "1",
      ...o.env,
      FEEDLINE_API_PORT: String(o.port),
      FEEDLINE_ADMIN_PORT: String(o.adminPort),
    },
  };
}

/**
 * Rate budgets for the tests' and benchmarks' own clients, which sign up hundreds of users from one
 * address and write far faster than a person: raised out of reach (the limiter still runs, one
 * Redis round trip per call, or per lease of reads), unless the environment sets them. The
 * security tests use their own.
 */
export function generousRates(env: Record<string, string | undefined> = process.env): Record<string, string> {
  const names = ["SIGNUPS_PER_HOUR", "WRITES_PER_MINUTE", "FOLLOWS_PER_HOUR", "READS_PER_MINUTE", "ANONYMOUS_READS_PER_MINUTE"];
  return Object.fromEntries(names.map((n) => `FEEDLINE_RATE_${n}`).filter((v) => !env[v]).map((v) => [v, "100000000"]));
}

/** The last `n` lines of a process's output, for error messages. */
export function lastLines(text: string, n = 30) {
  const lines = text.trimEnd().split("\n");
  return lines.length <= n ? lines.join("\n") : lines.slice(-n).join("\n");
}

/** Kills (SIGKILL) every service process still running: at exit, and after the last test file. */
export function killAllServices() {
  for (const child of running) child.kill("SIGKILL");
}

const running = new Set<ChildProcess>();
process.on("exit", killAllServices);

/** How a child ended: undefined while it runs. */
type Exit = { code: number | null; signal: NodeJS.Signals | null };

const keptTail = 64 * 1024;

function watch(child: ChildProcess, { output, stopGraceMs }: { output: "keep" | "forward"; stopGraceMs: number }, meta: { role: Role; port: number; adminPort: number; name: string }) {
  const url = `http://127.0.0.1:${meta.port}`;
  /** The admin surface: detailed /healthz, /metrics. */
  const adminUrl = `http://127.0.0.1:${meta.adminPort}`;
  let text = "";
  let exit: Exit | undefined;
  running.add(child);
  // "close", not "exit": by then its output has been read to the end, for output() and errors.
  const exited = new Promise<Exit>((done) => {
    child.once("close", (code, signal) => {
      running.delete(child);
      exit = { code, signal };
      done(exit);
    });
  });
  const append = (chunk: string) => {
    text += chunk;
    if (output === "forward" && text.length > 2 * keptTail) text = text.slice(-keptTail);
  };
  child.on("error", (err) => append(`${err.message}\n`));
  child.stdout!.setEncoding("utf8").on("data", append);
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    append(chunk);
    if (output === "forward") process.stderr.write(chunk);
  });
  /** Resolves true if the child exits within `ms`. */
  const exitsWithin = (ms: number) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
    return Promise.race([exited.then(() => true), timeout]).finally(() => clearTimeout(timer));
  };
  let stopping: Promise<void> | undefined;

  return {
    ...meta,
    url,
    adminUrl,
    pid: child.pid!,
    /** Its output so far (see ServiceOptions.output). */
    output: () => text,
    /** "running", "exited with code N" or "killed by SIGNAL". */
    status: () => describeExit(exit),
    /** Resolves once it has exited. */
    exited,
    /** Pauses (SIGSTOP) or wakes (SIGCONT) it; stop() and kill() end it. */
    signal(signal: "SIGSTOP" | "SIGCONT") {
      if (!exit) child.kill(signal);
    },
    /** A crash: SIGKILL, resolved once it has exited. */
    async kill() {
      if (!exit) child.kill("SIGKILL");
      await exited;
    },
    /** A clean shutdown: SIGTERM, then SIGKILL if it still runs after the grace period. Safe to call again. */
    stop() {
      stopping ??= (async () => {
        if (exit) return;
        child.kill("SIGTERM");
        child.kill("SIGCONT"); // a paused (SIGSTOP) process acts on SIGTERM only once woken
        if (await exitsWithin(stopGraceMs)) return;
        child.kill("SIGKILL");
        await exited;
      })();
      return stopping;
    },
  };
}

type Watched = ReturnType<typeof watch>;

async function untilReady(service: Watched, ready: "healthy" | "answering", timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  for (;;) {
    if (service.status() !== "running") throw new StackError(`${service.name} ${service.status()} during start-up. Last lines of its output:\n${lastLines(service.output())}`);
    // The admin /healthz: checked live, and its errors say what is not ready.
    const res = await fetch(`${service.adminUrl}/healthz`, { signal: AbortSignal.timeout(5000) }).catch((err: Error) => {
      last = err.message;
      return undefined;
    });
    if (res && (res.ok || ready === "answering")) return;
    if (res) last = `${res.status} ${(await res.text().catch(() => "")).slice(0, 500)}`;
    if (Date.now() > deadline) {
      await service.kill();
      const what = ready === "healthy" ? "report healthy" : "answer";
      throw new StackError(`${service.name} did not ${what} within ${timeoutMs / 1000} s (last /healthz: ${last}). Last lines of its output:\n${lastLines(service.output())}`);
    }
    await sleep(250);
  }
}

function describeExit(exit: Exit | undefined) {
  if (!exit) return "running";
  return exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
}
