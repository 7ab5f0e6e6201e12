import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Admin } from "kafkajs";
import type { Config } from "../../src/config";
import { createKafka } from "../../src/clients/kafka";
import { eventually, scratchName, stackConfig } from "../support/stack";

// kafkajs under Bun against the real broker: a consumer group with manual commits resumes
// after the last committed offset — the property the stream workers' crash safety rests on.

let config: Config;
let admin: Admin;
let topic: string;

beforeAll(async () => {
  config = await stackConfig();
  topic = scratchName(config, "commits", "topic");
  admin = createKafka(config.kafka, "feedline-test").admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
});

async function consumeOnce(groupId: string, commitUpTo: number) {
  const kafka = createKafka(config.kafka, "feedline-test");
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  const seen: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      seen.push(message.value!.toString());
      if (seen.length <= commitUpTo) {
        await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      }
    },
  });
  return { consumer, seen };
}

describe("kafkajs consumer groups under Bun", () => {
  test("a group that committed two of three messages resumes at the third after a restart", async () => {
    const producer = createKafka(config.kafka, "feedline-test").producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: ["one", "two", "three"].map((value) => ({ key: "k", value })) });
    await producer.disconnect();

    const groupId = scratchName(config, "commits", "group");
    const first = await consumeOnce(groupId, 2);
    await eventually("all three messages", () => (first.seen.length === 3 ? true : undefined));
    await first.consumer.disconnect();

    const second = await consumeOnce(groupId, 0);
    await eventually("the uncommitted message again", () => (second.seen.length >= 1 ? true : undefined));
    await new Promise((r) => setTimeout(r, 500));
    await second.consumer.disconnect();
    expect(second.seen).toEqual(["three"]);
  });
});
