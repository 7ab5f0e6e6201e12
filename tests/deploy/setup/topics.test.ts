import { describe, expect, test } from "bun:test";
import { createStackContext } from "../../../deploy/stack/context";
import { loadStackSettings } from "../../../deploy/stack/settings";
import { plannedTopics } from "../../../deploy/stack/setup/topics";
import { changeTopic } from "../../../src/clients/kafka";
import { loadConfig } from "../../../src/config";
import { capturedTables } from "../../../src/names";

describe("the planned topics", () => {
  const config = loadConfig({ FEEDLINE_TOPIC_PREFIX: "app", FEEDLINE_TOPIC_PARTITIONS: "3" });
  const planned = plannedTopics(createStackContext(config, loadStackSettings({})));
  const byName = new Map(planned.map((t) => [t.topic, t]));

  test("include every topic the service reads or writes, under the configured prefix", () => {
    for (const topic of [...capturedTables.map((t) => changeTopic(config.kafka, t)), config.stream.eventsTopic, config.stream.dlqTopic]) {
      expect(byName.has(topic)).toBe(true);
    }
    expect([...byName.keys()].filter((t) => !t.startsWith("app.") && !t.endsWith(".app"))).toEqual([]);
  });

  test("keep change topics compacted and spread over the configured partitions", () => {
    const users = byName.get("app.public.users")!;
    expect(users.numPartitions).toBe(3);
    expect(users.configEntries).toContainEqual({ name: "cleanup.policy", value: "compact" });
    expect(byName.get("app.events")!.numPartitions).toBe(3);
    expect(byName.get("app.dlq")!.configEntries).toContainEqual({ name: "retention.ms", value: String(14 * 86_400_000) });
  });
});
