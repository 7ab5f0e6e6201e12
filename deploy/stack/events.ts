import { capturedTables, changeTopic, createKafka } from "../../src/clients/kafka";
import { createSchemaRegistry } from "../../src/clients/registry";
import { createAvroDecoder, isAvro } from "../../src/stream/avro";
import type { StackContext } from "./context";
import { StackError } from "./errors";

/**
 * `npm run stack -- events <table> [count]`: the newest change events of a captured table's topic,
 * key and value decoded as the router decodes them (Avro with the writer's schema from the
 * registry), one JSON line each. For a kcat built without Avro support (Debian's).
 */
export async function printEvents(ctx: StackContext, table: string | undefined, count = 10) {
  if (!table || !(capturedTables as readonly string[]).includes(table)) {
    throw new StackError(`events <table> [count]: the table is one of ${capturedTables.join(", ")}`);
  }
  const topic = changeTopic(ctx.config.kafka, table as (typeof capturedTables)[number]);
  const avro = createAvroDecoder(createSchemaRegistry(ctx.config.registry.ccompat).schema);
  const kafka = createKafka(ctx.config.kafka, "feedline-events", { quiet: true });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  // `count` from the end of each partition; the newest `count` of those, by time, are printed.
  const starts = ends.map((p) => ({ partition: p.partition, from: Math.max(Number(p.low), Number(p.high) - count), to: Number(p.high) }));
  const wanted = starts.reduce((n, p) => n + p.to - p.from, 0);
  const events: { ts: number; line: string }[] = [];
  const consumer = kafka.consumer({ groupId: `feedline-events-${crypto.randomUUID()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic });
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const parts = [message.key, message.value];
        await avro.load(parts);
        const decode = (b: Buffer | null) => (b === null ? null : isAvro(b) ? avro.decode(b) : b.toString());
        events.push({ ts: Number(message.timestamp), line: JSON.stringify({ partition, offset: message.offset, key: decode(message.key), value: decode(message.value) }) });
        if (events.length >= wanted) done();
      },
    });
    for (const p of starts) consumer.seek({ topic, partition: p.partition, offset: String(p.from) });
    if (wanted > 0) await finished;
  } finally {
    await consumer.disconnect();
  }
  for (const e of events.sort((a, b) => a.ts - b.ts).slice(-count)) console.log(e.line);
}
