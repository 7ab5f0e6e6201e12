import { describe, expect, test } from "bun:test";
import { stackUp } from "../../bench/chaos/faults";
import { createStackContext } from "../../deploy/stack/context";
import { createStack } from "../../deploy/stack/stack";
import { createConnectClient } from "../../src/capture/connect";
import { changeTopic } from "../../src/clients/kafka";
import { decodeRouted } from "../../src/stream/routing";
import { signUp } from "../support/api";
import { expectConverged, feedIds, sharedWorker } from "../support/pipeline";
import { eventually, useServices } from "../support/stack";

// Avro with a schema registry: a nullable column added to posts while the pipeline runs. Debezium
// registers a new version of the topic's schema, the router decodes each event with its writer's
// schema, nothing breaks, and the new column reaches the handlers in the routed event.

const services = useServices();

describe("schema evolution", () => {
  test("a nullable column added to posts while the pipeline runs breaks nothing, and its value reaches the handlers", async () => {
    await sharedWorker();
    const { config, sql, kafka } = services();
    const subject = `${changeTopic(config.kafka, "posts")}-value`;
    const [author, reader] = [await signUp(services(), "evo"), await signUp(services(), "evo")];
    await reader.as.follows.follow({ userId: author.user.id });
    const before = await author.as.posts.create({ body: "before the column" });
    await expectConverged(services(), [author.user.id, reader.user.id]);
    const versionsBefore = await versions(config.registry.ccompat, subject);

    await sql`alter table posts add column if not exists mood text`;
    const [after] = await sql`insert into posts (author_id, body, mood) values (${author.user.id}, 'after the column', 'sunny') returning id::text as id`;
    const plain = await author.as.posts.create({ body: "after the column, through the API" });
    await sql`update posts set mood = 'calm' where id = ${before.id}`;

    await expectConverged(services(), [author.user.id, reader.user.id]);
    expect(await feedIds(services(), reader.user.id)).toEqual(expect.arrayContaining([`shard:${before.id}`, `shard:${after!.id}`, `shard:${plain.id}`]));
    expect((await versions(config.registry.ccompat, subject)).length).toBeGreaterThan(versionsBefore.length);

    // The routed events on the internal topic, as the feed worker's handlers receive them.
    const moods = new Map<string, unknown[]>([[before.id, []], [after!.id, []]]);
    const consumer = kafka.consumer({ groupId: `test-evolution-${crypto.randomUUID()}`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: config.stream.eventsTopic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const event = decodeRouted(message.value);
        if (event.kind === "activity" && event.table === "posts") moods.get(event.row.id)?.push(event.row.mood);
      },
    });
    try {
      await eventually("the routed events of both posts", () => (moods.get(before.id)!.length >= 2 && moods.get(after!.id)!.length >= 1 ? true : undefined));
    } finally {
      await consumer.disconnect();
    }
    expect(moods.get(after!.id)).toEqual(["sunny"]);
    expect(moods.get(before.id)).toEqual([undefined, "calm"]);
  });
});

describe("schema evolution with the registry down", () => {
  test("a schema that first appears while the registry is down waits for it: Connect's task fails, is restarted, and the change arrives once the registry is back", async () => {
    await sharedWorker(); // its capture watchdog restarts a FAILED task
    const { config, sql } = services();
    const registry = createStack(createStackContext(config)).components.find((c) => c.name === "registry")!;
    const pid = registry.pid();
    if (pid === undefined) throw new Error("the registry is not the stack tool's, so this test cannot stop it");
    const author = await signUp(services(), "evo");
    await author.as.posts.create({ body: "before the registry went" });
    await expectConverged(services(), [author.user.id]);

    process.kill(pid, "SIGKILL");
    let post: { id: string } | undefined;
    try {
      await sql`alter table posts add column if not exists weather text`;
      [post] = (await sql`insert into posts (author_id, body, weather) values (${author.user.id}, 'while the registry was down', 'rain') returning id::text as id`) as unknown as { id: string }[];
      // Its schema cannot be registered: the task fails (and the watchdog restarts it, to fail
      // again), and the post is not captured while the registry is away.
      const connect = createConnectClient(config.connect.url, config.connect.connector);
      await eventually("the connector's task to fail", async () => ((await connect.status())?.tasks.some((t) => t.state === "FAILED") ? true : undefined));
      expect(await feedIds(services(), author.user.id)).not.toContain(`shard:${post!.id}`);
    } finally {
      await stackUp();
    }
    await expectConverged(services(), [author.user.id], 120_000);
    expect(await feedIds(services(), author.user.id)).toContain(`shard:${post!.id}`);
  }, 300_000);
});

/** The registered versions of a subject, from the registry's Confluent-compatible API. */
async function versions(ccompat: string, subject: string) {
  const res = await fetch(`${ccompat}/subjects/${subject}/versions`);
  if (!res.ok) throw new Error(`GET versions of ${subject}: ${res.status}`);
  return (await res.json()) as number[];
}
