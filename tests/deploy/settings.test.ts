import { describe, expect, test } from "bun:test";
import { loadStackSettings } from "../../deploy/stack/settings";
import { ConfigError, loadConfig } from "../../src/config";

describe("stack settings", () => {
  test("defaults put the stack's own ports beside the service's, clashing with none of them", () => {
    const settings = loadStackSettings({});
    const config = loadConfig({});
    const own = [settings.kafka.controllerPort, settings.cassandra.storagePort, settings.cassandra.jmxPort];
    expect(own).toEqual([29093, 27000, 27199]);
    const all = [...own, config.postgres.port, config.redis.port, config.kafka.port, config.connect.port, config.cassandra.port, config.api.port];
    expect(new Set(all).size).toBe(all.length);
    expect(settings).toMatchObject({ dir: ".stack", javaHome: undefined, kafka: { heap: "512m" }, connect: { heap: "512m" }, cassandra: { heap: "1g" } });
  });

  test("a bad value stops the tool with an error naming the variable", () => {
    expect(() => loadStackSettings({ FEEDLINE_CASSANDRA_HEAP: "lots" })).toThrow(ConfigError);
    expect(() => loadStackSettings({ FEEDLINE_CASSANDRA_HEAP: "lots" })).toThrow(/FEEDLINE_CASSANDRA_HEAP/);
    expect(() => loadStackSettings({ FEEDLINE_KAFKA_CONTROLLER_PORT: "0" })).toThrow(/FEEDLINE_KAFKA_CONTROLLER_PORT/);
    expect(() => loadStackSettings({ FEEDLINE_STACK_DIR: "" })).not.toThrow();
  });

  test("given values are used as given", () => {
    const settings = loadStackSettings({ FEEDLINE_STACK_DIR: "/tmp/s", FEEDLINE_JAVA_HOME: "/opt/jdk", FEEDLINE_KAFKA_HEAP: "1g", FEEDLINE_CASSANDRA_JMX_PORT: "7199" });
    expect(settings).toMatchObject({ dir: "/tmp/s", javaHome: "/opt/jdk", kafka: { heap: "1g" }, cassandra: { jmxPort: 7199 } });
  });
});
