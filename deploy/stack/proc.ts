import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname } from "node:path";
import { StackError } from "./errors";
import { note } from "./progress";

/** Starts a long-running process detached from the tool, stdout and stderr appended to its log file. */
export function spawnDaemon(cmd: string, args: string[], opts: { log: string; pidFile: string; env?: NodeJS.ProcessEnv; cwd?: string }) {
  mkdirSync(dirname(opts.log), { recursive: true });
  mkdirSync(dirname(opts.pidFile), { recursive: true });
  appendFileSync(opts.log, `${startMarker} ${new Date().toISOString()} ${cmd}\n`);
  const fd = openSync(opts.log, "a");
  const child = spawn(cmd, args, { detached: true, stdio: ["ignore", fd, fd], env: opts.env ?? process.env, cwd: opts.cwd });
  if (child.pid === undefined) throw new StackError(`could not start ${cmd}`);
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  child.unref();
  writeFileSync(opts.pidFile, `${child.pid}\n`);
  // Right after spawn the child may not have exec'd yet (its command line is still ours), so
  // liveness during start-up comes from the child handle, not from /proc.
  return { pid: child.pid, running: () => !exited };
}

/** Runs a command to completion; throws with its output when it fails. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}) {
  const res = spawnSync(cmd, args, { encoding: "utf8", env: opts.env ?? process.env, cwd: opts.cwd, input: opts.input });
  if (res.error) throw new StackError(`${cmd} could not run: ${res.error.message}`);
  if (res.status !== 0) {
    throw new StackError(`${cmd} ${args.join(" ")} exited with ${res.status}:\n${(res.stderr || res.stdout).trim()}`);
  }
  return res.stdout;
}

export function readPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile, "utf8").trim().split("\n")[0] ?? "", 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * True when the pid is alive and is one of ours: its command line mentions `marker`
 * (our state directory), so a recycled pid of a foreign process is never taken for ours.
 */
export function isOurs(pid: number | undefined, marker: string): pid is number {
  if (pid === undefined) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && cmdline.includes(marker);
  } catch {
    return false;
  }
}

/** Sends SIGTERM to one of our pids, waits, then SIGKILL. Never signals a pid that is not ours. */
export async function stopPid(pid: number, marker: string, graceMs = 30_000) {
  if (!isOurs(pid, marker)) return false;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isOurs(pid, marker)) return true;
    await sleep(200);
  }
  note(`pid ${pid} ignored SIGTERM for ${graceMs / 1000}s: sending SIGKILL`);
  process.kill(pid, "SIGKILL");
  while (isOurs(pid, marker)) await sleep(100);
  return true;
}

export function removeFile(path: string) {
  rmSync(path, { force: true });
}

/** Written to a log before each start, so error messages show only the latest run's lines. */
const startMarker = "=== feedline stack: started";

/** The last lines of a log since the latest start, for error messages that say why rather than "timeout". */
export function logTail(log: string, lines = 25) {
  if (!existsSync(log)) return "(no log written)";
  const text = readFileSync(log, "utf8");
  const all = text.slice(Math.max(0, text.lastIndexOf(startMarker))).trimEnd().split("\n");
  return all.slice(-lines).join("\n");
}

/**
 * Polls `check` until it resolves. Fails early, with the log's last lines, when the process dies,
 * and at the deadline with the last check error and the log's last lines. A component the tool
 * did not start (`setup`) has no log of ours: then there is none to quote.
 */
export async function waitReady(opts: {
  name: string;
  check: () => Promise<unknown>;
  alive: () => boolean;
  log?: string;
  timeoutMs: number;
  intervalMs?: number;
}) {
  const deadline = Date.now() + opts.timeoutMs;
  const tail = () => (opts.log ? `. Last lines of ${opts.log}:\n${logTail(opts.log)}` : "");
  let lastError = "no check ran";
  while (Date.now() < deadline) {
    try {
      await opts.check();
      return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (!opts.alive()) {
      throw new StackError(`${opts.name} exited during start-up${tail()}`);
    }
    await sleep(opts.intervalMs ?? 500);
  }
  throw new StackError(`${opts.name} was not ready within ${opts.timeoutMs / 1000}s (last check: ${lastError})${tail()}`);
}

/** Fails, naming the port and the variable that sets it, when something else listens on the port. */
export async function ensurePortFree(port: number, variable: string, owner: string) {
  const free = await new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)));
  });
  if (!free) {
    throw new StackError(
      `port ${port} is already in use by another process, so ${owner} cannot start on it. ` +
        `Stop that process or choose another port with ${variable}=<port>.`,
    );
  }
}

/** A port nothing listens on right now (for test servers and benchmarks). */
export async function freePort() {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

export function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
