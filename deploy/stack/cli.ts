import { spawn } from "node:child_process";
import os from "node:os";
import { resolve } from "node:path";
import { ConfigError, loadConfig } from "../../src/config";
import { createStackContext } from "./context";
import { printEvents } from "./events";
import { claimNamespace, dropNamespace, reapNamespaces, setUpNamespace } from "./namespace";
import { StackError } from "./errors";
import { seconds } from "./progress";
import { ensureStackSecret } from "./secret";
import { loadStackSettings } from "./settings";
import { requestSnapshot } from "./setup/snapshot";
import { createStack } from "./stack";

const usage = `usage: npm run stack -- <command>
  up       install what is missing, start the local stack, apply schemas, register the connector
  setup    only apply schemas, create topics and register the connector, on a stack this tool
           did not start (docker-compose.yml runs it); addresses from the FEEDLINE_* variables
  down     stop the stack's own processes and drop its replication slot
  status   show each component; exits 0 only when every one answers
  logs     print the last lines of each log (logs <component> [lines] for one)
  reset    down, then delete data, config and logs (jars are kept)
  events <table> [count]  print the newest change events of a captured table's topic, decoded
           (Avro, with each event's schema from the registry) as JSON lines
  snapshot [table…]  ask Debezium for an incremental snapshot (all captured tables by default):
           every row is re-emitted and the workers rebuild derived state
  test     up (reusing what runs), bun test in a namespace of its own (database, connector, topics,
           groups, keyspace, Redis prefix; dropped afterwards), then stop what it started
  serve [--role api|worker|all]  run the service against the stack, with the stack's token secret
  token <user>  print a bearer token for an existing user (id or handle), signed with that secret`;

async function main(argv: string[]) {
  const [command, ...rest] = argv;
  const ctx = createStackContext(loadConfig(), loadStackSettings());
  const stack = createStack(ctx);
  const started = performance.now();
  switch (command) {
    case "up": {
      const names = await stack.up();
      console.log(`stack up in ${seconds(started)}${names.length ? ` (started ${names.join(", ")})` : " (nothing to start)"}`);
      return 0;
    }
    case "setup": {
      if (rest.length > 0) {
        // It takes no arguments: `setup --help` (or anything else) prints the usage.
        console.error(usage);
        return rest[0] === "--help" || rest[0] === "-h" ? 0 : 2;
      }
      await stack.setup();
      console.log(`stack set up in ${seconds(started)}`);
      return 0;
    }
    case "down":
      await stack.down();
      return 0;
    case "status": {
      const { ok, rows } = await stack.status();
      for (const r of rows) console.log(`${r.ok ? "✓" : "✗"} ${r.name.padEnd(10)} ${String(r.pid ?? "-").padEnd(8)} ${r.detail}`);
      return ok ? 0 : 1;
    }
    case "logs":
      stack.logs(rest[0], rest[1] ? Number(rest[1]) : undefined);
      return 0;
    case "events":
      await printEvents(ctx, rest[0], rest[1] ? Number(rest[1]) : undefined);
      return 0;
    case "snapshot": {
      const id = await requestSnapshot(ctx, rest.length ? rest : undefined);
      console.log(`snapshot requested (signal ${id}); follow it in the Connect log: npm run stack -- logs connect`);
      return 0;
    }
    case "reset":
      await stack.reset();
      return 0;
    case "test": {
      const names: string[] = [];
      let namespace: string | undefined;
      try {
        await stack.up(names);
        await reapNamespaces(ctx);
        namespace = claimNamespace(ctx);
        const env = await setUpNamespace(ctx, namespace);
        console.log(`stack ready in ${seconds(started)}; running bun test in namespace ${namespace}`);
        return await foreground(["test", "--timeout", "300000", ...rest], { ...ctx.childEnv(), ...env });
      } finally {
        // Also when `up` or the set-up failed halfway: what this run made is dropped, what it started is stopped.
        if (namespace) await dropNamespace(ctx, namespace).catch((err: Error) => console.warn(`warning: ${err.message}`));
        if (names.length > 0) {
          console.log(`stopping what this run started: ${names.join(", ")}`);
          await stack.down(names);
        }
      }
    }
    case "serve":
    case "token":
      // The service in the foreground, as `npm start` and `npm run token` run it.
      ensureStackSecret();
      return foreground([resolve(import.meta.dir, "../../src/main.ts"), command, ...rest], ctx.childEnv());
    default:
      console.error(usage);
      return command ? 2 : 0;
  }
}

/**
 * Runs `bun <args>` with our terminal and resolves with its exit code. A supervisor's SIGTERM (or
 * a Ctrl-C) reaches the child, which stops cleanly, and this process lives on to clean up after it.
 */
function foreground(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, args, { stdio: "inherit", env });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, forward);
  return new Promise<number>((done) =>
    child.on("exit", (code, signal) => {
      for (const s of ["SIGINT", "SIGTERM"] as const) process.off(s, forward);
      done(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1));
    }),
  );
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof StackError || err instanceof ConfigError) console.error(`\nerror: ${err.message}`);
    else console.error(err);
    process.exit(1);
  },
);
