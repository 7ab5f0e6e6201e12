import { describe, expect, test } from "bun:test";
import { capturedTables, ConfigError, kafkaNames, loadConfig } from "../src/config";

describe("config", () => {
  test("defaults run the local stack on ports that leave the machine's own services alone", () => {
    const config = loadConfig({});
    const ports = [config.postgres.port, config.redis.port, config.kafka.port, config.connect.port, config.cassandra.port, config.api.port];
    for (const taken of [5432, 6379, 9092, 8083, 9042]) expect(ports).not.toContain(taken);
    expect(new Set(ports).size).toBe(ports.length);
    expect(config.kafka.brokers).toEqual(["127.0.0.1:59092"]);
  });

  test("a bad value stops start-up with an error naming the variable", () => {
    expect(() => loadConfig({ FEEDLINE_KAFKA_PORT: "ninety" })).toThrow(ConfigError);
    expect(() => loadConfig({ FEEDLINE_KAFKA_PORT: "ninety" })).toThrow(/FEEDLINE_KAFKA_PORT/);
    expect(() => loadConfig({ FEEDLINE_PG_PORT: "70000" })).toThrow(/FEEDLINE_PG_PORT/);
    expect(() => loadConfig({ FEEDLINE_TOPIC_PREFIX: "Has Spaces" })).toThrow(/FEEDLINE_TOPIC_PREFIX/);
  });

  test("an empty variable means its default", () => {
    expect(loadConfig({ FEEDLINE_REDIS_PORT: "" }).redis.port).toBe(56379);
  });

  test("given values are used as given", () => {
    const config = loadConfig({ FEEDLINE_KAFKA_HOST: "kafka.internal", FEEDLINE_KAFKA_PORT: "9093", FEEDLINE_TOPIC_PREFIX: "app" });
    expect(config.kafka.brokers).toEqual(["kafka.internal:9093"]);
    expect(config.kafka.topicPrefix).toBe("app");
  });

  test("the stack tool's own settings are not part of the service's config", () => {
    const config = loadConfig({});
    expect(Object.keys(config.kafka)).not.toContain("controllerPort");
    expect(Object.keys(config.cassandra)).not.toContain("storagePort");
    expect(Object.keys(config.cassandra)).not.toContain("jmxPort");
  });

  test("every topic and group name derives from the topic prefix", () => {
    const config = loadConfig({ FEEDLINE_TOPIC_PREFIX: "app" });
    const names = kafkaNames("app");
    expect(config.stream).toMatchObject({ eventsTopic: "app.events", dlqTopic: "app.dlq", routerGroup: "app-router", feedsGroup: "app-feeds" });
    expect(capturedTables.map(names.change)).toEqual(["app.public.users", "app.public.follows", "app.public.posts", "app.public.comments", "app.public.likes"]);
    expect([names.signal, names.heartbeat, names.connect.group]).toEqual(["app.public.debezium_signal", "__debezium-heartbeat.app", "app-connect"]);
  });
});
