import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createStackContext } from "../../deploy/stack/context";
import { claimNamespace, dropNamespace, namespaceContext, reapNamespaces, setUpNamespace } from "../../deploy/stack/namespace";
import { createConnectClient } from "../../src/capture/connect";
import { createKafka } from "../../src/clients/kafka";
import { createSchemaRegistry } from "../../src/clients/registry";
import { createAvroDecoder } from "../../src/stream/avro";
import { createServices } from "../../src/services";
import { stackConfig, uniqueHandle } from "../support/stack";

// `npm test` runs in a namespace of its own (deploy/stack/namespace.ts). This makes a second one
// beside it: it must capture on its own, hold nothing of the run's, and leave nothing behind.

/** What of namespace `ctx` exists: database, slot, connector, topics, groups, keyspace, Redis keys. */
async function remains(ctx: ReturnType<typeof namespaceContext>) {
  const base = await createServices({ ...(await stackConfig()), redis: { ...ctx.config.redis, keyPrefix: "" } });
  const admin = base.kafka.admin();
  await admin.connect();
  try {
    const name = ctx.config.postgres.database;
    const prefix = ctx.config.kafka.topicPrefix;
    return {
      database: (await base.sql`select 1 from pg_database where datname = ${name}`).length,
      slot: (await base.sql`select 1 from pg_replication_slots where slot_name = ${ctx.config.connect.slot}`).length,
      connector: (await createConnectClient(ctx.config.connect.url, ctx.config.connect.connector).status()) ? 1 : 0,
      topics: (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`) || t.endsWith(`.${prefix}`)).length,
      groups: (await admin.listGroups()).groups.filter((g) => g.groupId.startsWith(`${prefix}-`)).length,
      keyspace: (await base.cassandra.execute("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?", [name])).rowLength,
      redisKeys: (await base.redis.keys(`${ctx.config.redis.keyPrefix}*`)).length,
      subjects: ((await (await fetch(`${ctx.config.registry.ccompat}/subjects`)).json()) as string[]).filter((s) => s.startsWith(`${prefix}.`) || s.includes(`.${prefix}-`)).length,
    };
  } finally {
    await admin.disconnect();
    await base.close();
  }
}

describe("test namespaces", () => {
  test("a namespace captures on its own, shares nothing with the run's, and is dropped to the last key", async () => {
    const base = createStackContext(await stackConfig());
    const name = claimNamespace(base);
    const ctx = namespaceContext(base, name);
    let dropped = false;
    try {
      await setUpNamespace(base, name);
      const ours = await createServices(await stackConfig());
      const theirs = await createServices(ctx.config);
      try {
        // A user written in the namespace's database reaches its own change topic, and only there.
        const handle = uniqueHandle("ns");
        const [row] = await theirs.sql`insert into users (handle) values (${handle}) returning id::text as id`;
        expect(await ours.sql`select 1 from users where handle = ${handle}`).toHaveLength(0);
        const seen = await firstKeyIn(ctx.config, `${ctx.config.kafka.topicPrefix}.public.users`);
        expect(seen).toEqual({ id: Number(row!.id) });
        // Its Redis keys carry its prefix; the run's client does not see them.
        await theirs.redis.set("probe", "1");
        expect(await ours.redis.get("probe")).toBeNull();
        expect(await theirs.redis.get("probe")).toBe("1");
      } finally {
        await ours.close();
        await theirs.close();
      }
      expect(Object.values(await remains(ctx)).every((n) => n > 0)).toBe(true);
      await dropNamespace(base, name);
      dropped = true;
      expect(await remains(ctx)).toEqual({ database: 0, slot: 0, connector: 0, topics: 0, groups: 0, keyspace: 0, redisKeys: 0, subjects: 0 });
      expect(existsSync(base.run("test-namespaces", name))).toBe(false);
    } finally {
      if (!dropped) await dropNamespace(base, name).catch(() => {});
    }
  });

  test("a namespace whose run is gone is dropped by the next run; a live run's is left alone", async () => {
    const base = createStackContext(await stackConfig());
    const [live, dead] = [claimNamespace(base), claimNamespace(base)];
    try {
      const gone = spawnSync("true").pid; // a pid that has exited
      writeFileSync(base.run("test-namespaces", dead), String(gone));
      await reapNamespaces(base);
      expect(existsSync(base.run("test-namespaces", dead))).toBe(false);
      expect(existsSync(base.run("test-namespaces", live))).toBe(true);
    } finally {
      await dropNamespace(base, live);
      await dropNamespace(base, dead).catch(() => {});
    }
  });
});

/** The key of the first message of `topic`, read by a group of the namespace's own. */
/** The first key of a topic, decoded from Avro with its schema from the registry. */
async function firstKeyIn(config: ReturnType<typeof namespaceContext>["config"], topic: string) {
  const avro = createAvroDecoder(createSchemaRegistry(config.registry.ccompat).schema);
  const consumer = createKafka(config.kafka, "feedline-test").consumer({ groupId: `${config.kafka.topicPrefix}-probe`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    return await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message in ${topic} within 60 s`)), 60_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          clearTimeout(timer);
          await avro.load([message.key]);
          resolve(JSON.parse(JSON.stringify(avro.decode(message.key!))));
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
}
