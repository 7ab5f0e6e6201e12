import type { Admin } from "kafkajs";
import type { Config } from "../config";
import { capturedTables, changeTopic } from "../clients/kafka";

/** The stream's two consumer groups and the topics each reads. */
export function streamGroups(config: Config) {
  return [
    { groupId: config.stream.routerGroup, topics: capturedTables.map((t) => changeTopic(config.kafka, t)) },
    { groupId: config.stream.feedsGroup, topics: [config.stream.eventsTopic] },
  ];
}

/** Per group and partition: messages not yet consumed and committed (end offset minus committed, or minus the start when nothing is committed). */
export async function consumerLag(admin: Admin, config: Config) {
  const rows: { group: string; topic: string; partition: number; lag: number }[] = [];
  for (const g of streamGroups(config)) {
    for (const t of await admin.fetchOffsets({ groupId: g.groupId, topics: g.topics })) {
      const ends = await admin.fetchTopicOffsets(t.topic);
      for (const p of t.partitions) {
        const end = ends.find((e) => e.partition === p.partition);
        const done = Math.max(Number(p.offset), Number(end?.low ?? 0));
        rows.push({ group: g.groupId, topic: t.topic, partition: p.partition, lag: Math.max(0, Number(end?.high ?? 0) - done) });
      }
    }
  }
  return rows;
}
