import { type Kafka, type Message, Partitioners } from "kafkajs";
import type { Config } from "../config";
import type { Metrics } from "../metrics";
import { type CapturedTable, capturedTables, changeTopic } from "../clients/kafka";
import type { AvroDecoder } from "./avro";
import { DecodeError } from "./decode-error";
import { createLease, FencedError } from "./lease";
import { decodeChange } from "./envelope";
import { encodeRouted, route } from "./routing";
import type { StageStatus } from "./status";
import { after, consumerOptions, deadLetter, heartbeatIntervalMs, retrying } from "./transport";

/**
 * Stage 1: consumes the Debezium topics, decodes each change (Avro, with its writer's schema from
 * the registry: src/stream/avro.ts), and re-keys it onto the events topic by the user whose
 * stream must handle it. Undecodable events go to the dead-letter topic with the reason; a
 * registry that cannot be asked is an outage, waited out like any other. A batch's offsets are
 * committed only after its messages are acknowledged by all in-sync replicas (acks=-1), so a crash
 * re-sends rather than loses.
 *
 * A member that may have lost its partition does not produce (a lease, as the feed worker's:
 * lease.ts). A router frozen past its session timeout with a batch in hand would otherwise wake
 * and append that batch after what the partition's new owner has routed since, at later offsets
 * and so later write times: an insert re-applied after its delete, the row back.
 */
export function createRekeyStage(deps: { kafka: Kafka; config: Config; metrics: Metrics; avro: AvroDecoder; status: StageStatus }) {
  const { kafka, config, metrics, avro, status } = deps;
  const topics = Object.fromEntries(capturedTables.map((t) => [changeTopic(config.kafka, t), t])) as Record<string, CapturedTable>;
  const consumer = kafka.consumer(consumerOptions(config, config.stream.routerGroup));
  // One request in flight per broker keeps the produced order equal to the consumed order on retries.
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false, maxInFlightRequests: 1 });
  const routed = metrics.counter("feedline_events_total", "Change events consumed, by stage and topic.");
  const dead = metrics.counter("feedline_dead_letters_total", "Events sent to the dead-letter topic, by source topic.");

  async function start() {
    await producer.connect();
    await consumer.connect();
    // A new group starts at the beginning, so the connector's snapshot builds the feeds.
    await consumer.subscribe({ topics: Object.keys(topics), fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: capturedTables.length,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const last = batch.messages.at(-1);
        if (!last) return;
        const table = topics[batch.topic]!;
        const out: Message[] = [];
        const dlq: Message[] = [];
        // A heartbeat first: a member that was frozen learns here that it is no longer one.
        const lease = createLease({ sessionTimeoutMs: config.stream.sessionTimeoutMs, heartbeatIntervalMs });
        const beat = () => lease.heartbeat(heartbeat);
        await beat();
        await retrying(() => avro.load(batch.messages.map((m) => m.value)), { label: `reading ${batch.topic}'s schemas`, heartbeat: beat, isRunning, status });
        for (const m of batch.messages) {
          try {
            const change = decodeChange(table, m.value, avro);
            if (!change) continue; // tombstone: the delete before it did the work
            for (const r of route(change)) out.push({ key: r.key, value: encodeRouted(r.event), headers: { "source.ts": String(change.sourceTs), "change.ts": m.timestamp } });
          } catch (err) {
            if (!(err instanceof DecodeError)) throw err;
            console.warn(`[router] ${batch.topic}/${batch.partition}@${m.offset} to the dead-letter topic: ${err.message}`);
            dlq.push(deadLetter(batch.topic, batch.partition, m, err.message));
          }
        }
        if (config.stream.routeDelayMs > 0) {
          // Fault injection (tests): a window in which the router holds events it has not produced.
          console.warn(`[router] holding ${batch.messages.length} events of ${batch.topic}/${batch.partition} (offsets ${batch.firstOffset()}-${last.offset}) for ${config.stream.routeDelayMs} ms`);
          await Bun.sleep(config.stream.routeDelayMs);
        }
        const topicMessages = [
          ...(out.length ? [{ topic: config.stream.eventsTopic, messages: out }] : []),
          ...(dlq.length ? [{ topic: config.stream.dlqTopic, messages: dlq }] : []),
        ];
        if (topicMessages.length) {
          try {
            await retrying(
              () => {
                lease.check(); // right before each attempt: the window left is between this and the write
                return producer.sendBatch({ acks: -1, topicMessages });
              },
              { label: `routing ${batch.topic}`, heartbeat: beat, isRunning, status },
            );
          } catch (err) {
            if (!(err instanceof FencedError)) throw err;
            // Nothing produced by this attempt, nothing committed: the partition's owner routes the batch.
            console.warn(`[router] stopped the batch of ${batch.messages.length} events of ${batch.topic}/${batch.partition}: ${err.message}`);
            return;
          }
        }
        routed.inc({ stage: "router", topic: batch.topic }, batch.messages.length);
        if (dlq.length) dead.inc({ topic: batch.topic }, dlq.length);
        // Resolving moves this session's fetch position; committing makes it survive a restart.
        resolveOffset(last.offset);
        if (isRunning() && !isStale()) {
          await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: after(last.offset) }]);
          status.progress();
        }
      },
    });
  }

  return {
    consumer,
    start,
    async stop() {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}
