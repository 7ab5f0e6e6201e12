import { beforeAll, describe, expect, test } from "bun:test";
import { changeTopic } from "../../src/clients/kafka";
import { signUp } from "../support/api";
import { expectConverged, feedIds, sharedWorker } from "../support/pipeline";
import { eventually, useServices } from "../support/stack";

const services = useServices();
beforeAll(async () => {
  await sharedWorker();
});

/** The id of a subject's latest schema, from the registry's Confluent-compatible API. */
async function latestSchemaId(ccompat: string, subject: string) {
  return eventually(`a schema registered for ${subject}`, async () => {
    const res = await fetch(`${ccompat}/subjects/${subject}/versions/latest`);
    return res.ok ? ((await res.json()) as { id: number }).id : undefined;
  });
}

describe("poison events", () => {
  test("an event that cannot be decoded lands in the dead-letter topic with the reason, and later events are still processed", async () => {
    const { config, kafka } = services();
    const marker = crypto.randomUUID();
    const author = await signUp(services(), "dlq");
    await author.as.posts.create({ body: "before the poison" }); // registers the posts topic's schema, if no test did
    const postsSchemaId = await latestSchemaId(config.registry.ccompat, `${changeTopic(config.kafka, "posts")}-value`);
    /** The Confluent wire format: magic byte 0, the schema id, then (here) no Avro at all. */
    const avroFramed = (schemaId: number, body: string) => {
      const header = Buffer.alloc(5); // magic byte 0, then the id
      header.writeUInt32BE(schemaId, 1);
      return Buffer.concat([header, Buffer.from(body)]);
    };
    const poison = [
      { key: JSON.stringify({ id: 1 }), value: `not json ${marker}` },
      {
        key: JSON.stringify({ id: 2 }),
        value: JSON.stringify({ op: "c", before: null, after: { id: "two", marker }, source: { ts_ms: Date.now(), lsn: 1, table: "posts" } }),
      },
      { key: JSON.stringify({ id: 3 }), value: avroFramed(2147483000, `unknown schema ${marker}`) },
      { key: JSON.stringify({ id: 4 }), value: avroFramed(postsSchemaId, `not Avro ${marker}`) },
    ];
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: changeTopic(config.kafka, "posts"), acks: -1, messages: poison });
    await producer.disconnect();

    const post = await author.as.posts.create({ body: "after the poison" });
    await expectConverged(services(), [author.user.id]);
    expect(await feedIds(services(), author.user.id)).toContain(`shard:${post.id}`);

    const dead: { value: string; reason: string; topic: string }[] = [];
    const consumer = kafka.consumer({ groupId: `test-dlq-${crypto.randomUUID()}`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: config.stream.dlqTopic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const value = message.value?.toString() ?? "";
        if (value.includes(marker)) {
          dead.push({ value, reason: message.headers?.["dlq.reason"]?.toString() ?? "", topic: message.headers?.["dlq.topic"]?.toString() ?? "" });
        }
      },
    });
    try {
      await eventually("the four poison events in the dead-letter topic", () => (dead.length >= 4 ? dead : undefined));
    } finally {
      await consumer.disconnect();
    }
    // Different keys, different partitions: the two arrive in either order.
    const byValue = (text: string) => dead.find((d) => d.value.includes(text))!;
    expect(dead.map((d) => d.topic)).toEqual(Array(4).fill(changeTopic(config.kafka, "posts")));
    expect(byValue("not json").reason).toBe("value is not JSON");
    expect(byValue('"two"').reason).toMatch(/^bad posts row: id: /);
    expect(byValue("unknown schema").reason).toBe("schema id 2147483000 is not in the registry");
    expect(byValue("not Avro").reason).toStartWith(`not Avro of schema id ${postsSchemaId}: `);
  });
});
