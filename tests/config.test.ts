import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../src/config";
import { capturedTables, kafkaNames } from "../src/names";

describe("config", () => {
  test("defaults run the local stack on ports that leave the machine's own services alone", () => {
    const config = loadConfig({});
    const ports = [config.postgres.port, config.redis.port, config.kafka.port, config.connect.port, config.cassandra.port, config.api.port];
    for (const taken of [5432, 6379, 9092, 8083, 9042]) expect(ports).not.toContain(taken);
    expect(new Set(ports).size).toBe(ports.length);
    expect(config.kafka.brokers).toEqual(["127.0.0.1:29092"]);
  });

  test("a bad value stops start-up with an error naming the variable", () => {
    expect(() => loadConfig({ FEEDLINE_KAFKA_PORT: "ninety" })).toThrow(ConfigError);
    expect(() => loadConfig({ FEEDLINE_KAFKA_PORT: "ninety" })).toThrow(/FEEDLINE_KAFKA_PORT/);
    expect(() => loadConfig({ FEEDLINE_PG_PORT: "70000" })).toThrow(/FEEDLINE_PG_PORT/);
    expect(() => loadConfig({ FEEDLINE_TOPIC_PREFIX: "Has Spaces" })).toThrow(/FEEDLINE_TOPIC_PREFIX/);
  });

  test("an empty variable means its default", () => {
    expect(loadConfig({ FEEDLINE_REDIS_PORT: "" }).redis.port).toBe(26379);
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

  test("every topic, group and capture name derives from the topic prefix", () => {
    const config = loadConfig({ FEEDLINE_TOPIC_PREFIX: "my-app" });
    const names = kafkaNames("my-app");
    expect(config.stream).toMatchObject({ eventsTopic: "my-app.events", dlqTopic: "my-app.dlq", routerGroup: "my-app-router", feedsGroup: "my-app-feeds" });
    expect(capturedTables.map(names.change)).toEqual(["my-app.public.users", "my-app.public.follows", "my-app.public.posts", "my-app.public.comments", "my-app.public.likes", "my-app.public.mentions", "my-app.public.notification_marks"]);
    expect([names.signal, names.heartbeat]).toEqual(["my-app.public.debezium_signal", "__debezium-heartbeat.my-app"]);
    // PostgreSQL's slot names take no "-".
    expect(config.connect).toMatchObject({ connector: "my-app-postgres", slot: "my_app_debezium", publication: "my_app_publication" });
  });

  test("the default names are the ones earlier versions fixed, so an existing stack keeps its connector and slot", () => {
    expect(loadConfig({}).connect).toMatchObject({ connector: "feedline-postgres", slot: "feedline_debezium", publication: "feedline_publication" });
  });

  test("a cache miss loads 50 items by default, never fewer than a default page nor more than the feed's length", () => {
    expect(loadConfig({}).feed.cacheFill).toBe(50);
    expect(loadConfig({ FEEDLINE_CACHE_FILL: "9999" }).feed.cacheFill).toBe(500);
    expect(loadConfig({ FEEDLINE_CACHE_FILL: "20" }).feed.cacheFill).toBe(20);
    expect(() => loadConfig({ FEEDLINE_CACHE_FILL: "19" })).toThrow(/FEEDLINE_CACHE_FILL/);
  });

  test("the Redis key prefix is empty by default and refuses characters that would need quoting", () => {
    expect(loadConfig({}).redis.keyPrefix).toBe("");
    expect(loadConfig({ FEEDLINE_REDIS_KEY_PREFIX: "app:" }).redis.keyPrefix).toBe("app:");
    expect(() => loadConfig({ FEEDLINE_REDIS_KEY_PREFIX: "a b*" })).toThrow(/FEEDLINE_REDIS_KEY_PREFIX/);
  });
});
