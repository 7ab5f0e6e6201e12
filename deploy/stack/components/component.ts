import type { StackContext } from "../context";
import { isOurs, readPid, removeFile, spawnDaemon, stopPid, waitReady } from "../proc";

/** One process of the local stack: how to start it, how to know it really answers, how to stop only it. */
export interface Component {
  name: string;
  /** Ports it listens on, with the variable that moves each. */
  ports: { port: number; variable: string }[];
  /** Our live pid, or undefined when it is not running. */
  pid(): number | undefined;
  /** Spawns the process (it is known not to be running) and returns once `probe` passes. */
  start(): Promise<void>;
  /** One readiness check: resolves only when the component answers real requests. */
  probe(): Promise<void>;
  /** Its log file. */
  log: string;
  /** How long start-up may take before the tool gives up. */
  readyTimeoutMs: number;
  stop(): Promise<boolean>;
}

/** Pid-file bookkeeping shared by the components the tool spawns directly. */
export function daemon(ctx: StackContext, name: string) {
  const pidFile = ctx.pidFile(name);
  const log = ctx.log(name);
  const pid = () => {
    const p = readPid(pidFile);
    return isOurs(p, ctx.root) ? p : undefined;
  };
  return {
    log,
    pid,
    /** Spawns the process and waits until `probe` passes, failing early if it exits. */
    async start(cmd: string, args: string[], probe: () => Promise<void>, timeoutMs: number, env?: NodeJS.ProcessEnv) {
      const child = spawnDaemon(cmd, args, { log, pidFile, env });
      await waitReady({ name, check: probe, alive: child.running, log, timeoutMs, intervalMs: 500 });
    },
    async stop() {
      const p = pid();
      removeFile(pidFile);
      return p === undefined ? false : stopPid(p, ctx.root);
    },
  };
}

/** Runs `fn` with a client made by `open`, always closing it. */
export async function withClient<C, T>(open: () => C, close: (c: C) => Promise<unknown>, fn: (c: C) => Promise<T>) {
  const client = open();
  try {
    return await fn(client);
  } finally {
    await close(client).catch(() => {});
  }
}

/** JVM flags common to every Java component: fixed heap, G1, IPv4, and the process tagged with our state dir. */
export function jvmBase(ctx: StackContext, heap: string) {
  return [`-Xms${heap}`, `-Xmx${heap}`, "-XX:+UseG1GC", "-Djava.net.preferIPv4Stack=true", `-Dfeedline.stack=${ctx.root}`];
}
