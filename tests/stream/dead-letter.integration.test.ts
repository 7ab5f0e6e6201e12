import { beforeAll, describe, expect, test } from "bun:test";
import { changeTopic } from "../../src/clients/kafka";
import { signUp } from "../support/api";
import { expectConverged, feedIds, sharedWorker } from "../support/pipeline";
import { eventually, useServices } from "../support/stack";

const services = useServices();
beforeAll(async () => {
  await sharedWorker();
});

describe("poison events", () => {
  test("an event that cannot be decoded lands in the dead-letter topic with the reason, and later events are still processed", async () => {
    const { config, kafka } = services();
    const marker = crypto.randomUUID();
    const poison = [
      { key: JSON.stringify({ id: 1 }), value: `not json ${marker}` },
      {
        key: JSON.stringify({ id: 2 }),
        value: JSON.stringify({ op: "c", before: null, after: { id: "two", marker }, source: { ts_ms: Date.now(), lsn: 1, table: "posts" } }),
      },
    ];
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: changeTopic(config.kafka, "posts"), acks: -1, messages: poison });
    await producer.disconnect();

    const author = await signUp(services(), "dlq");
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
      await eventually("both poison events in the dead-letter topic", () => (dead.length >= 2 ? dead : undefined));
    } finally {
      await consumer.disconnect();
    }
    // Different keys, different partitions: the two arrive in either order.
    const byValue = (prefix: string) => dead.find((d) => d.value.startsWith(prefix))!;
    expect(dead.map((d) => d.topic)).toEqual([changeTopic(config.kafka, "posts"), changeTopic(config.kafka, "posts")]);
    expect(byValue("not json").reason).toBe("value is not JSON");
    expect(byValue("{").reason).toMatch(/^bad posts row: id: /);
  });
});
