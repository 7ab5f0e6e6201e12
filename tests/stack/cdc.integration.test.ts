import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";
import type { Consumer, KafkaMessage } from "kafkajs";
import type { Config } from "../../src/config";
import type { Services } from "../../src/services";
import { changeTopic, createKafka } from "../../src/clients/kafka";
import { createSchemaRegistry } from "../../src/clients/registry";
import { type AvroDecoder, createAvroDecoder, isAvro, longType } from "../../src/stream/avro";
import { eventually, openServices, scratchName, stackConfig, uniqueHandle } from "../support/stack";

// A row written to PostgreSQL arrives as a Debezium change event on its Kafka topic, read with a
// kafkajs consumer group that commits by hand, exactly as the stream workers will. Keys and values
// are Avro in the Confluent wire format, each decoded with its writer's schema from the registry.

type Envelope = {
  op: "c" | "u" | "d" | "r";
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  source: { ts_ms: number; lsn: number; table: string; db: string };
};

let config: Config;
let services: Services;
let consumer: Consumer;
let avro: AvroDecoder;
const received: { key: string; value: Envelope | null; offset: string; partition: number }[] = [];

beforeAll(async () => {
  config = await stackConfig();
  services = await openServices();
  avro = createAvroDecoder(createSchemaRegistry(config.registry.ccompat).schema);
  consumer = createKafka(config.kafka, "feedline-test").consumer({ groupId: scratchName(config, "cdc", "group"), maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: changeTopic(config.kafka, "users"), fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      received.push(await decode(message, partition));
      await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
    },
  });
});

afterAll(async () => {
  await consumer?.disconnect();
  await services?.close();
});

/** A message's key (as JSON text, for matching) and value, both decoded from Avro. */
async function decode(message: KafkaMessage, partition: number) {
  const parts = [message.key, message.value];
  await avro.load(parts);
  for (const p of parts) if (p && !isAvro(p)) throw new Error(`not Avro: ${p.toString()}`);
  const plain = (v: Buffer) => JSON.parse(JSON.stringify(avro.decode(v))); // avsc's records as plain objects
  return {
    key: message.key ? JSON.stringify(plain(message.key)) : "",
    value: message.value ? (plain(message.value) as Envelope) : null,
    offset: message.offset,
    partition,
  };
}

/**
 * The events of one key written since `since` (source time), with any tombstone that follows a
 * delete. Older events with the same key (a stack whose database was recreated) are left out.
 */
function eventsFor<T extends { key: string; value: Envelope | null }>(messages: T[], key: string, since: number) {
  const out: T[] = [];
  for (const m of messages) {
    if (m.key !== key) continue;
    if (m.value ? m.value.source.ts_ms >= since : out.at(-1)?.value?.op === "d") out.push(m);
  }
  return out;
}

describe("Debezium change events", () => {
  test("an insert, an update and a delete of a row arrive in order with before/after, op and source time", async () => {
    const handle = uniqueHandle("cdc");
    const writeStarted = Date.now();
    const [user] = await services.sql`insert into users (handle, display_name) values (${handle}, 'First') returning id, created_at`;
    const id = String(user!.id);
    await services.sql`update users set display_name = 'Second' where id = ${id}`;
    await services.sql`delete from users where id = ${id}`;

    const key = JSON.stringify({ id: Number(id) });
    const events = await eventually("three events for the user", () => {
      const e = eventsFor(received, key, writeStarted - 1000);
      return e.length >= 3 ? e : undefined;
    });
    const [created, updated, deleted] = events;
    expect(created!.value).toMatchObject({ op: "c", before: null, after: { id: Number(id), handle, display_name: "First" } });
    expect(created!.value!.source).toMatchObject({ table: "users", db: config.postgres.database });
    expect(created!.value!.source.ts_ms).toBeGreaterThanOrEqual(writeStarted - 1000);
    expect(created!.value!.source.lsn).toBeGreaterThan(0);
    expect(typeof created!.value!.after!.created_at).toBe("string");

    expect(updated!.value).toMatchObject({ op: "u", before: { display_name: "First" }, after: { display_name: "Second" } });

    // REPLICA IDENTITY FULL: the delete carries the whole old row, not only the key.
    expect(deleted!.value).toMatchObject({ op: "d", after: null, before: { id: Number(id), handle, display_name: "Second" } });
    expect(deleted!.value!.before!.created_at).toBe(created!.value!.after!.created_at);

    // No tombstone follows (tombstones.on.delete=false): the delete, with the whole row, stays the
    // key's latest record, so compaction keeps it for a consumer however far behind. Debezium
    // sends a tombstone right after its delete, so two seconds is plenty to see one.
    await Bun.sleep(2000);
    expect(eventsFor(received, key, writeStarted - 1000).map((e) => e.value?.op ?? "tombstone")).toEqual(["c", "u", "d"]);
    // All events of one row share a key, hence a partition, hence their order.
    expect(new Set(events.map((e) => e.partition)).size).toBe(1);
  });

  test("a delete of a follow edge carries both ends of the edge", async () => {
    const writeStarted = Date.now();
    const [a] = await services.sql`insert into users (handle) values (${uniqueHandle("fa")}) returning id`;
    const [b] = await services.sql`insert into users (handle) values (${uniqueHandle("fb")}) returning id`;
    await services.sql`insert into follows (follower_id, followee_id) values (${a!.id}, ${b!.id})`;
    await services.sql`delete from follows where follower_id = ${a!.id} and followee_id = ${b!.id}`;

    const followEvents: { key: string; value: Envelope | null }[] = [];
    const c = createKafka(config.kafka, "feedline-test").consumer({ groupId: scratchName(config, "follows", "group"), maxWaitTimeInMs: 100 });
    await c.connect();
    await c.subscribe({ topic: changeTopic(config.kafka, "follows"), fromBeginning: true });
    const key = JSON.stringify({ follower_id: Number(a!.id), followee_id: Number(b!.id) });
    await c.run({
      eachMessage: async ({ partition, message }) => {
        followEvents.push(await decode(message, partition));
      },
    });
    try {
      const events = await eventually("follow and unfollow events", () => {
        const e = eventsFor(followEvents, key, writeStarted - 1000).flatMap((m) => (m.value ? [m.value] : []));
        return e.length >= 2 ? e : undefined;
      });
      expect(events.map((e) => e.op)).toEqual(["c", "d"]);
      expect(events[1]!.before).toMatchObject({ follower_id: Number(a!.id), followee_id: Number(b!.id) });
      expect(typeof events[1]!.before!.created_at).toBe("string");
    } finally {
      await c.disconnect();
    }
  });

  test("any Confluent-compatible consumer reads the topics: another client decodes an event through the registry's Confluent API", async () => {
    // @kafkajs/confluent-schema-registry frames and looks schemas up on its own; only the long
    // type is ours, since Debezium's ts_ns is past 2^53 and avsc's default refuses it.
    const confluent = new SchemaRegistry({ host: config.registry.ccompat }, { [SchemaType.AVRO]: { registry: { long: longType } } });
    const handle = uniqueHandle("ccompat");
    const [user] = await services.sql`insert into users (handle, display_name) values (${handle}, 'Compatible') returning id`;
    const found: { key: unknown; value: { op: string; after: Record<string, unknown> } }[] = [];
    const c = createKafka(config.kafka, "feedline-test").consumer({ groupId: scratchName(config, "ccompat", "group"), maxWaitTimeInMs: 100 });
    await c.connect();
    await c.subscribe({ topic: changeTopic(config.kafka, "users"), fromBeginning: true });
    await c.run({
      eachMessage: async ({ message }) => {
        const value = await confluent.decode(message.value!);
        if (value.after?.handle === handle) found.push({ key: await confluent.decode(message.key!), value });
      },
    });
    try {
      await eventually("the user's event, decoded by the other client", () => (found.length > 0 ? true : undefined));
    } finally {
      await c.disconnect();
    }
    expect(JSON.parse(JSON.stringify(found[0]!.key))).toEqual({ id: Number(user!.id) });
    expect(found[0]!.value).toMatchObject({ op: "c", after: { id: Number(user!.id), handle, display_name: "Compatible" } });
  });
});
