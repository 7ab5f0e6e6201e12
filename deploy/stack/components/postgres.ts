import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chownSync, existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { probes } from "../../../src/health";
import { createPostgres } from "../../../src/clients/postgres";
import type { StackContext } from "../context";
import { StackError } from "../errors";
import { pgBin } from "../install";
import { note } from "../progress";
import { isOurs, run, waitReady } from "../proc";
import { type Component, withClient } from "./component";

/**
 * The project's own PostgreSQL cluster: own data dir and port, wal_level=logical, replication
 * allowed from 127.0.0.1. PostgreSQL refuses to run as root, so as root it runs as `postgres`.
 */
export function postgresComponent(ctx: StackContext): Component {
  const cfg = ctx.config.postgres;
  const asRoot = process.getuid?.() === 0;
  // Resolved on first use, so building the stack touches no disk (`setup` on a stack it did not start).
  let resolved: { home: string; dataDir: string; socketDir: string; log: string } | undefined;
  const paths = () => {
    if (!resolved) {
      const home = postgresHome(ctx, asRoot);
      resolved = { home, dataDir: `${home}/data`, socketDir: `${home}/run`, log: `${home}/postgres.log` };
    }
    return resolved;
  };
  const pg = (tool: string, args: string[]) =>
    asRoot ? run("runuser", ["-u", "postgres", "--", `${pgBin}/${tool}`, ...args]) : run(`${pgBin}/${tool}`, args);

  const pid = () => {
    const { dataDir } = paths();
    const pidFile = `${dataDir}/postmaster.pid`;
    if (!existsSync(pidFile)) return undefined;
    const p = Number.parseInt(readFileSync(pidFile, "utf8").split("\n")[0]!, 10);
    return isOurs(p, dataDir) ? p : undefined;
  };

  const probeDb = (database: string) =>
    withClient(
      () => createPostgres({ ...cfg, database }, { max: 1 }),
      (sql) => sql.end({ timeout: 1 }),
      (sql) => probes.postgres(sql),
    );

  function ownedByPostgres(path: string, isDir: boolean) {
    if (isDir) mkdirSync(path, { recursive: true });
    else if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, "");
    }
    if (asRoot) {
      const uid = Number(run("id", ["-u", "postgres"]).trim());
      const gid = Number(run("id", ["-g", "postgres"]).trim());
      chownSync(path, uid, gid);
    }
  }

  function initCluster() {
    const { home, dataDir } = paths();
    note(`initdb ${dataDir}`);
    ownedByPostgres(home, true);
    ownedByPostgres(dataDir, true);
    pg("initdb", ["-D", dataDir, "-U", cfg.user, "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"]);
    // initdb's pg_hba.conf already allows `host replication all 127.0.0.1/32` with trust.
    const conf = `${dataDir}/postgresql.conf`;
    writeFileSync(conf, `${readFileSync(conf, "utf8")}\n# feedline\ninclude_if_exists = 'feedline.conf'\n`);
  }

  return {
    name: "postgres",
    ports: [{ port: cfg.port, variable: "FEEDLINE_PG_PORT" }],
    pid,
    probe: () => probeDb(cfg.database),
    get log() {
      return paths().log;
    },
    readyTimeoutMs: 60_000,
    async start() {
      const { dataDir, socketDir, log } = paths();
      if (!existsSync(`${dataDir}/PG_VERSION`)) initCluster();
      // Written on every start so a changed port takes effect; the rest is the CDC set-up.
      writeFileSync(
        `${dataDir}/feedline.conf`,
        [
          `port = ${cfg.port}`,
          `listen_addresses = '127.0.0.1'`,
          `unix_socket_directories = '${socketDir}'`,
          `wal_level = logical`,
          `max_wal_senders = 10`,
          `max_replication_slots = 10`,
          // Flush WAL every 10 ms instead of 200 ms: Debezium sees commits sooner.
          `wal_writer_delay = 10ms`,
          // A slot nobody reads must not fill the disk: cap what it may pin.
          `max_slot_wal_keep_size = 4GB`,
          `log_min_messages = warning`,
          "",
        ].join("\n"),
      );
      ownedByPostgres(socketDir, true);
      ownedByPostgres(log, false);
      try {
        pg("pg_ctl", ["-D", dataDir, "-l", log, "-w", "-t", "60", "start"]);
      } catch (err) {
        throw new StackError(`${(err as Error).message}\nLast lines of ${log}:\n${readFileSync(log, "utf8").split("\n").slice(-20).join("\n")}`);
      }
      await waitReady({ name: "postgres", check: () => probeDb("postgres"), alive: () => pid() !== undefined, log, timeoutMs: 30_000 });
      await withClient(
        () => createPostgres({ ...cfg, database: "postgres" }, { max: 1 }),
        (sql) => sql.end({ timeout: 1 }),
        async (sql) => {
          const [exists] = await sql`select 1 from pg_database where datname = ${cfg.database}`;
          if (!exists) await sql`create database ${sql(cfg.database)}`;
        },
      );
    },
    async stop() {
      if (pid() === undefined) return false;
      pg("pg_ctl", ["-D", paths().dataDir, "-m", "fast", "-w", "-t", "60", "stop"]);
      return true;
    },
  };
}

/**
 * Where the cluster lives: `<state>/postgres`. As root the server runs as `postgres`, which must
 * be able to reach that path; when a parent directory is closed to it (a checkout under /root,
 * say), the cluster lives in /var/tmp instead and `<state>/postgres` is a symlink to it.
 */
function postgresHome(ctx: StackContext, asRoot: boolean) {
  const inState = join(ctx.root, "postgres");
  if (existsSync(inState)) return realpathSync(inState);
  const reachable = !asRoot || spawnSync("runuser", ["-u", "postgres", "--", "test", "-x", ctx.root]).status === 0;
  if (reachable) return inState;
  const outside = `/var/tmp/feedline-postgres-${createHash("sha256").update(ctx.root).digest("hex").slice(0, 12)}`;
  mkdirSync(ctx.root, { recursive: true });
  mkdirSync(outside, { recursive: true });
  symlinkSync(outside, inState);
  note(`the postgres user cannot reach ${ctx.root}: the cluster lives in ${outside} (linked from ${inState})`);
  return outside;
}
