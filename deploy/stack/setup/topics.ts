import type { ITopicConfig } from "kafkajs";
import { capturedTables, kafkaNames } from "../../../src/names";
import { createKafka } from "../../../src/clients/kafka";
import { withClient } from "../components/component";
import type { StackContext } from "../context";
import { note } from "../progress";

const day = 24 * 60 * 60 * 1000;

/**
 * The topics this design relies on, created explicitly (the broker has auto-creation off).
 * Change topics are compacted: keyed by primary key, the log keeps each row's latest change, so a
 * new consumer group can rebuild every feed from the topics alone; min.compaction.lag keeps a
 * day of full history for consumers that lag. The connector writes no tombstones
 * (`tombstones.on.delete=false`), so a deleted row's latest change is its delete event, which
 * compaction keeps: a consumer however far behind still reads every delete. See docs/operations.md.
 */
export function plannedTopics(ctx: StackContext): ITopicConfig[] {
  const k = ctx.config.kafka;
  const names = kafkaNames(k.topicPrefix);
  const deleted = (topic: string, numPartitions: number, retentionDays: number): ITopicConfig => ({
    topic,
    numPartitions,
    replicationFactor: k.replicationFactor,
    configEntries: [
      { name: "cleanup.policy", value: "delete" },
      { name: "retention.ms", value: String(retentionDays * day) },
    ],
  });
  const change = (topic: string): ITopicConfig => ({
    topic,
    numPartitions: k.partitions,
    replicationFactor: k.replicationFactor,
    configEntries: [
      { name: "cleanup.policy", value: "compact" },
      { name: "min.compaction.lag.ms", value: String(day) },
      { name: "delete.retention.ms", value: String(day) },
      { name: "segment.ms", value: String(day) },
    ],
  });
  return [
    ...capturedTables.map((t) => change(names.change(t))),
    // Debezium emits the signalling table's own changes here; nothing consumes them.
    deleted(names.signal, 1, 1),
    // The router re-keys every change by user onto this topic; the feed worker consumes it.
    deleted(names.events, k.partitions, 7),
    deleted(names.dlq, 1, 14),
    deleted(names.heartbeat, 1, 1),
  ];
}

/** Creates the planned topics that do not exist; reports existing ones whose partition count differs. */
export function ensureTopics(ctx: StackContext) {
  return withClient(
    () => createKafka(ctx.config.kafka, "feedline-stack", { quiet: true }).admin(),
    (a) => a.disconnect(),
    async (admin) => {
      await admin.connect();
      const planned = plannedTopics(ctx);
      const existing = new Set(await admin.listTopics());
      const missing = planned.filter((t) => !existing.has(t.topic));
      if (missing.length > 0) {
        await admin.createTopics({ topics: missing, waitForLeaders: true });
        note(`created ${missing.map((t) => t.topic).join(", ")}`);
      }
      const present = planned.filter((t) => existing.has(t.topic));
      if (present.length > 0) {
        const meta = await admin.fetchTopicMetadata({ topics: present.map((t) => t.topic) });
        for (const t of meta.topics) {
          const want = planned.find((p) => p.topic === t.name)?.numPartitions;
          if (want !== t.partitions.length) note(`warning: ${t.name} has ${t.partitions.length} partitions, configured ${want}`);
        }
      }
    },
  );
}
