import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnectClient, describeStates } from "../../src/capture/connect";
import { createCassandra } from "../../src/clients/cassandra";
import { createKafka } from "../../src/clients/kafka";
import { createPostgres } from "../../src/clients/postgres";
import { createRedis, deleteNamespace } from "../../src/clients/redis";
import { loadConfig } from "../../src/config";
import { kafkaNames } from "../../src/names";
import { withClient } from "./components/component";
import { createStackContext, type StackContext } from "./context";
import { StackError } from "./errors";
import { note, step } from "./progress";
import { sleep } from "./proc";
import { setupSteps } from "./setup";
import { dropReplicationSlot } from "./setup/slot";

/**
 * A test run's own namespace on the shared stack (`npm test`): a PostgreSQL database, a Debezium
 * connector with its replication slot and publication, Kafka topics and consumer groups under a
 * topic prefix of its own, a Cassandra keyspace and a Redis key prefix, all named `feedline_test_<id>`,
 * created before `bun test` and dropped after it. A run therefore sees only its own history: a
 * stack that holds a seeded data set, benchmark topics or another run's leftovers changes nothing
 * in what the tests wait for. The processes (PostgreSQL, Kafka, Connect, Cassandra, Redis) are
 * shared; only names differ, through the same variables any deployment sets.
 *
 * A namespace is recorded in `<state>/run/test-namespaces/<name>` with the pid of the run that
 * owns it; one whose run died without dropping it (SIGKILL, a lost machine) is dropped by the
 * next run. A live run's namespace is never touched, so runs may overlap.
 */

export const testNamespacePrefix = "feedline_test_";

/** The variables that put a process in namespace `name` (valid for each of their formats). */
export function namespaceEnv(name: string): Record<string, string> {
  return {
    FEEDLINE_PG_DATABASE: name,
    FEEDLINE_TOPIC_PREFIX: name,
    FEEDLINE_CASSANDRA_KEYSPACE: name,
    FEEDLINE_REDIS_KEY_PREFIX: `${name}:`,
  };
}

/** The stack context of namespace `name`: `base`'s addresses and settings, the namespace's names. */
export function namespaceContext(base: StackContext, name: string) {
  return createStackContext(loadConfig({ ...process.env, ...namespaceEnv(name) }), base.settings);
}

/** A new namespace's name, recorded as owned by this process (so that a failed set-up is dropped too). */
export function claimNamespace(base: StackContext) {
  const name = `${testNamespacePrefix}${Date.now().toString(36)}${crypto.randomUUID().slice(0, 4)}`;
  mkdirSync(base.run("test-namespaces"), { recursive: true });
  writeFileSync(ownerFile(base, name), String(process.pid));
  return name;
}

/** Creates namespace `name` and sets it up as `up` sets up the default one; returns its variables. */
export async function setUpNamespace(base: StackContext, name: string) {
  const ctx = namespaceContext(base, name);
  await step(`creating database ${name}`, () =>
    withPostgres(ctx, async (sql) => {
      await sql`create database ${sql(name)}`;
    }),
  );
  // In the stack's start order, as setupSteps lists them.
  for (const s of Object.values(setupSteps(ctx))) await step(`${s.label} (${name})`, s.run);
  return namespaceEnv(name);
}

/**
 * Drops everything of namespace `name`, each part even when another fails (the errors are
 * reported together, and the record is kept so the next run tries again): the connector (stopped,
 * its source offsets deleted, then deleted), its slot, the database, the topics and consumer
 * groups, the keyspace and the Redis keys.
 */
export async function dropNamespace(base: StackContext, name: string) {
  if (!name.startsWith(testNamespacePrefix)) throw new StackError(`${name} is not a test namespace`);
  const ctx = namespaceContext(base, name);
  const failures: string[] = [];
  const part = async (label: string, fn: () => Promise<unknown>) => {
    try {
      await step(label, fn);
    } catch (err) {
      failures.push(`${label}: ${(err as Error).message}`);
    }
  };
  await part(`deleting connector ${ctx.config.connect.connector}`, () => deleteConnector(ctx));
  await part(`dropping replication slot ${ctx.config.connect.slot}`, () => dropReplicationSlot(ctx, "postgres"));
  await part(`dropping database ${name}`, () => withPostgres(ctx, (sql) => sql`drop database if exists ${sql(name)} with (force)`));
  await part(`deleting topics and consumer groups ${name}*`, () => deleteKafkaNamespace(ctx));
  await part(`deleting schema subjects of ${name}*`, () => deleteSubjects(ctx.config.registry.ccompat, ctx.config.kafka.topicPrefix));
  await part(`dropping keyspace ${name}`, () =>
    withClient(
      () => createCassandra(ctx.config.cassandra, { keyspace: false }),
      (c) => c.shutdown(),
      (c) => c.execute(`DROP KEYSPACE IF EXISTS ${name}`),
    ),
  );
  await part(`deleting Redis keys ${ctx.config.redis.keyPrefix}*`, () =>
    withClient(
      () => createRedis(ctx.config.redis, { quiet: true }),
      (r) => r.quit(),
      (r) => deleteNamespace(r),
    ),
  );
  if (failures.length > 0) throw new StackError(`namespace ${name} was not wholly dropped (the next \`npm test\` tries again):\n  ${failures.join("\n  ")}`);
  rmSync(ownerFile(base, name), { force: true });
}

/**
 * The registry's subjects of a namespace's topics (`<topic>-key`, `<topic>-value`, the change
 * topics' and the heartbeat topic's), deleted as the Confluent API does it: soft, then for good.
 */
export async function deleteSubjects(ccompat: string, topicPrefix: string) {
  const ask = async (path: string, method = "GET") => {
    const res = await fetch(`${ccompat}${path}`, { method, signal: AbortSignal.timeout(10_000) });
    if (!res.ok && res.status !== 404) throw new StackError(`${method} ${path} answered ${res.status}: ${await res.text()}`);
    return res;
  };
  const subjects = (await (await ask("/subjects")).json()) as string[];
  const ours = subjects.filter((s) => s.startsWith(`${topicPrefix}.`) || s.startsWith(`__debezium-heartbeat.${topicPrefix}-`));
  for (const s of ours) {
    await ask(`/subjects/${encodeURIComponent(s)}`, "DELETE");
    await ask(`/subjects/${encodeURIComponent(s)}?permanent=true`, "DELETE");
  }
}

/** Drops the namespaces whose run is no longer alive; a failure is reported, never fatal. */
export async function reapNamespaces(base: StackContext) {
  let names: string[];
  try {
    names = readdirSync(base.run("test-namespaces"));
  } catch {
    return;
  }
  for (const name of names) {
    let owner: number;
    try {
      owner = Number(readFileSync(ownerFile(base, name), "utf8"));
    } catch {
      continue; // dropped meanwhile by another run
    }
    if (alive(owner)) continue;
    note(`namespace ${name} was left by run ${owner}, which is gone: dropping it`);
    await dropNamespace(base, name).catch((err) => note(`warning: ${(err as Error).message}`));
  }
}

const ownerFile = (base: StackContext, name: string) => base.run("test-namespaces", name);

function alive(pid: number) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function withPostgres<T>(ctx: StackContext, fn: (sql: ReturnType<typeof createPostgres>) => Promise<T>) {
  return withClient(
    () => createPostgres({ ...ctx.config.postgres, database: "postgres" }, { max: 1 }),
    (sql) => sql.end({ timeout: 1 }),
    fn,
  );
}

/**
 * Stops the connector, deletes its source offsets (KIP-875, Kafka 3.6+: otherwise they stay in
 * Connect's offsets topic for good) and deletes it. Absent already: nothing to do.
 */
/** A pipeline's connector: stopped, its source offsets deleted, then removed (also used by bench:avro for its own). */
export async function deleteConnector(ctx: StackContext) {
  const connect = createConnectClient(ctx.config.connect.url, ctx.config.connect.connector, 30_000);
  if (!(await connect.status())) return;
  await connect.stop();
  const deadline = Date.now() + 60_000;
  // Offsets can be deleted only once the connector and its tasks have stopped.
  for (;;) {
    const status = await connect.status();
    if (!status) return; // deleted meanwhile
    if (status.connector.state === "STOPPED" && status.tasks.length === 0) break;
    if (Date.now() > deadline) throw new StackError(`connector ${connect.connector} did not stop within 60 s (${describeStates(status)})`);
    await sleep(500);
  }
  await connect.deleteOffsets();
  await connect.remove();
}

/**
 * Deletes the namespace's topics and consumer groups: those named `<prefix>.…` and `<prefix>-…`
 * (every planned one, and the tests' own, tests/support/stack.ts scratchName), and Debezium's
 * heartbeat topic.
 */
export function deleteKafkaNamespace(ctx: StackContext) {
  const prefix = ctx.config.kafka.topicPrefix;
  const heartbeat = kafkaNames(prefix).heartbeat;
  return withClient(
    () => createKafka(ctx.config.kafka, "feedline-stack", { quiet: true }).admin(),
    (a) => a.disconnect(),
    async (admin) => {
      await admin.connect();
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`) || t === heartbeat);
      if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
      let groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(`${prefix}-`));
      // A member that was killed rather than stopped keeps its group non-empty until its session
      // times out (FEEDLINE_STREAM_SESSION_TIMEOUT_MS): retry those for a while.
      const deadline = Date.now() + 60_000;
      while (groups.length > 0) {
        const failed = await admin.deleteGroups(groups).then(
          () => [],
          (err: Error & { groups?: { groupId: string; error: { type?: string; message: string } }[] }) => {
            if (!err.groups) throw err;
            return err.groups;
          },
        );
        groups = failed.filter((f) => f.error.type !== "GROUP_ID_NOT_FOUND").map((f) => f.groupId);
        if (groups.length > 0 && Date.now() > deadline) {
          throw new StackError(`could not delete consumer groups: ${failed.map((f) => `${f.groupId} (${f.error.message})`).join(", ")}`);
        }
        if (groups.length > 0) await sleep(2000);
      }
    },
  );
}
