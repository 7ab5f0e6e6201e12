import { type Kafka, type KafkaMessage, type Message, Partitioners } from "kafkajs";
import type { Config } from "../config";
import type { Metrics } from "../metrics";
import type { Fanout } from "../fanout/fanout";
import type { Dormancy } from "../feeds/dormancy";
import type { FeedStore } from "../feeds/store";
import type { ObjectCache } from "../feeds/objects";
import type { Notifier } from "../fanout/notify";
import { DecodeError } from "./decode-error";
import { applyEvent, type WriteContext } from "./handlers";
import { decodeRouted, type Routed } from "./routing";
import { inParallel } from "../parallel";
import type { StageStatus } from "./status";
import { createLease, FencedError } from "./lease";
import { unitOfWork } from "./unit-of-work";
import { after, consumerOptions, deadLetter, heartbeatIntervalMs, keepAlive, retrying } from "./transport";
import { writeTimeOf } from "../model/write-time";

/**
 * Stage 2: consumes the events topic and applies each event to Cassandra and Redis. Events of
 * one user (one key) are applied one after another in offset order; different users of a
 * batch run concurrently. The batch's offset is committed only after every write of the batch
 * succeeded; a retryable store error is retried with back-off (the partition waits), a
 * non-retryable one stops the consumer rather than skip a write.
 */
export function createFeedWorker(deps: { kafka: Kafka; config: Config; metrics: Metrics; feeds: FeedStore; fanout: Fanout; objects: ObjectCache; notifier: Notifier; dormancy: Dormancy; status: StageStatus }) {
  const { kafka, config, metrics, feeds, fanout, objects, notifier, dormancy, status } = deps;
  const consumer = kafka.consumer(consumerOptions(config, config.stream.feedsGroup));
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  const events = metrics.counter("feedline_events_total", "Change events consumed, by stage and topic.");
  const writes = metrics.counter("feedline_fanout_writes_total", "Feed entries written (fan-out and backfill).");
  const retries = metrics.counter("feedline_store_retries_total", "Store operations retried after a retryable error.");
  const dead = metrics.counter("feedline_dead_letters_total", "Events sent to the dead-letter topic, by source topic.");
  const freshness = metrics.histogram(
    "feedline_freshness_seconds",
    "Source commit to feed write, per activity fanned out.",
    [0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  );
  // Where the time between a source commit and the feed write goes, per activity (freshness split).
  const stages = metrics.histogram(
    "feedline_stage_seconds",
    "Per activity: capture = source commit to change event in Kafka (Debezium), route = change event to routed event (router), deliver = routed event to the worker starting it, write = the worker's writes.",
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  );
  const watermark = metrics.gauge("feedline_watermark_seconds", "Per partition of the events topic: source commit time of the last event whose writes are all done (Unix seconds).");

  const ctx: Omit<WriteContext, "ts"> = {
    feeds,
    fanout,
    objects,
    notifier,
    feedLength: config.feed.length,
    hybrid: config.stream.hybrid,
    dormancy,
    onFanout(n, sourceTs) {
      writes.inc({}, n);
      if (sourceTs !== null && n > 0) freshness.observe(Math.max(0, (Date.now() - sourceTs) / 1000));
    },
  };

  function observeStages(message: KafkaMessage, sourceTs: number | null, started: number, done: number) {
    const changeTs = Number(message.headers?.["change.ts"]?.toString());
    const routedTs = Number(message.timestamp);
    const seconds = (from: number, to: number) => Math.max(0, (to - from) / 1000);
    if (sourceTs && changeTs) stages.observe(seconds(sourceTs, changeTs), { stage: "capture" });
    if (changeTs && routedTs) stages.observe(seconds(changeTs, routedTs), { stage: "route" });
    if (routedTs) stages.observe(seconds(routedTs, started), { stage: "deliver" });
    stages.observe(seconds(started, done), { stage: "write" });
  }

  async function start() {
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topics: [config.stream.eventsTopic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: config.kafka.partitions,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const last = batch.messages.at(-1);
        if (!last) return;
        const byUser = new Map<string, { event: Routed; message: KafkaMessage }[]>();
        const dlq: Message[] = [];
        for (const m of batch.messages) {
          try {
            const event = decodeRouted(m.value);
            const key = m.key?.toString() ?? "";
            const list = byUser.get(key);
            if (list) list.push({ event, message: m });
            else byUser.set(key, [{ event, message: m }]);
          } catch (err) {
            if (!(err instanceof DecodeError)) throw err;
            dlq.push(deadLetter(batch.topic, batch.partition, m as KafkaMessage, err.message));
          }
        }
        // Writes stop as soon as this member may have lost the partition (lease.ts); what it
        // wrote before then carries its events' write times, so it cannot undo newer ones.
        const lease = createLease({ sessionTimeoutMs: config.stream.sessionTimeoutMs, heartbeatIntervalMs });
        const beat = () => lease.heartbeat(heartbeat);
        if (config.stream.applyDelayMs > 0) {
          // Fault injection (tests, chaos): a window in which the member holds events it has not applied.
          console.warn(`[stream] worker: holding ${batch.messages.length} events of partition ${batch.partition} (offsets ${batch.firstOffset()}-${last.offset}) for ${config.stream.applyDelayMs} ms`);
          await Bun.sleep(config.stream.applyDelayMs);
        }
        await beat();
        const alive = keepAlive(beat);
        try {
          await inParallel([...byUser.values()], config.stream.concurrency, async (userEvents) => {
            // The user's row and followers are read once per run rather than once per event.
            const guard = () => (lease.check(), alive.progress());
            const runCtx = { ...ctx, ...unitOfWork(feeds, fanout, objects, notifier, guard), onFanout: (n: number, ts: number | null) => (alive.progress(), ctx.onFanout(n, ts)) };
            for (const { event, message } of userEvents) {
              const started = Date.now();
              const eventCtx: WriteContext = { ...runCtx, ts: writeTimeOf(message.offset) };
              await retrying(() => applyEvent(eventCtx, event), {
                label: `applying ${event.kind} ${event.op}`,
                heartbeat: beat,
                isRunning,
                onRetry: () => retries.inc(),
                status,
              });
              alive.progress();
              status.active();
              if (event.kind === "activity" && event.op === "upsert") observeStages(message, event.sourceTs, started, Date.now());
            }
          });
        } catch (err) {
          if (!(err instanceof FencedError)) throw err;
          // Nothing is committed: the partition's owner applies the batch (again), in order.
          console.warn(`[stream] worker: stopped the batch of ${batch.messages.length} events on partition ${batch.partition}: ${err.message}`);
          return;
        } finally {
          alive.stop();
        }
        if (dlq.length) {
          await retrying(() => producer.send({ topic: config.stream.dlqTopic, acks: -1, messages: dlq }), { label: "dead-lettering", heartbeat, isRunning, status });
          dead.inc({ topic: batch.topic }, dlq.length);
        }
        events.inc({ stage: "feeds", topic: batch.topic }, batch.messages.length);
        // Resolving moves this session's fetch position; committing makes it survive a restart.
        resolveOffset(last.offset);
        if (isRunning() && !isStale()) {
          await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: after(last.offset) }]);
          status.progress();
          const ts = Number(last.headers?.["source.ts"]?.toString());
          if (ts) watermark.set({ partition: String(batch.partition) }, ts / 1000);
        } else {
          console.warn(`[stream] worker: the batch of ${batch.messages.length} events on partition ${batch.partition} finished after the partition was taken away; it will be applied again`);
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
