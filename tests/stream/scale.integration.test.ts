import { beforeAll, describe, expect, test } from "bun:test";
import { AssignerProtocol } from "kafkajs";
import { changeTopic } from "../../src/clients/kafka";
import { expectConverged, sharedWorker, startWorker } from "../support/pipeline";
import { eventually, useServices } from "../support/stack";
import { randomWorkload } from "../support/workload";

const services = useServices();
beforeAll(async () => {
  await sharedWorker();
});

/** Which partitions of `topic` each member of `groupId` holds. */
async function assignment(groupId: string, topic: string) {
  const admin = services().kafka.admin();
  await admin.connect();
  try {
    const [group] = (await admin.describeGroups([groupId])).groups;
    return (group?.members ?? []).map((m) => AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic] ?? []);
  } finally {
    await admin.disconnect();
  }
}

const counter = (metrics: string, name: string) =>
  metrics
    .split("\n")
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);

describe("scale-out and observability", () => {
  test("two worker processes share the partitions of one group, and the feeds still converge", async () => {
    const second = await startWorker();
    try {
      const { feedsGroup, eventsTopic } = services().config.stream;
      const split = await eventually("both workers to hold partitions", async () => {
        const a = await assignment(feedsGroup, eventsTopic);
        return a.length === 2 && a.every((p) => p.length > 0) ? a : undefined;
      }, 60_000);
      expect(split.flat().sort((x, y) => x - y)).toEqual([...Array(services().config.kafka.partitions).keys()]);

      const users = await randomWorkload(services(), { users: 24, operations: 300, seed: 2024 });
      await expectConverged(services(), users, 90_000);
      const metrics = await (await fetch(`${second.adminUrl}/metrics`)).text();
      expect(counter(metrics, 'feedline_events_total{stage="feeds"')).toBeGreaterThan(0);
    } finally {
      await second.stop();
    }
  });

  test("/metrics reports lag per partition, events, fan-out writes, freshness and watermarks", async () => {
    const worker = await sharedWorker();
    const users = await randomWorkload(services(), { users: 4, operations: 30, seed: 5 });
    await expectConverged(services(), users);
    const text = await (await fetch(`${worker.adminUrl}/metrics`)).text();
    const { stream, kafka } = services().config;
    const lagLine = (group: string, topic: string) => new RegExp(`^feedline_consumer_lag\\{group="${group}",topic="${topic.replaceAll(".", "\\.")}",partition="\\d+"\\} \\d+$`, "m");
    expect(text).toMatch(lagLine(stream.feedsGroup, stream.eventsTopic));
    expect(text).toMatch(lagLine(stream.routerGroup, changeTopic(kafka, "posts")));
    expect(counter(text, "feedline_fanout_writes_total")).toBeGreaterThan(0);
    expect(counter(text, "feedline_freshness_seconds_count")).toBeGreaterThan(0);
    expect(text).toMatch(/^feedline_watermark_seconds\{partition="\d+"\} \d+(\.\d+)?$/m);
  });
});
