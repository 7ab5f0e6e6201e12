import { describe, expect, test } from "bun:test";
import { createStackContext } from "../../../deploy/stack/context";
import { loadStackSettings } from "../../../deploy/stack/settings";
import { connectorConfig } from "../../../deploy/stack/setup/connector";
import { loadConfig } from "../../../src/config";
import { capturedTables } from "../../../src/names";

describe("the connector config", () => {
  const ctx = createStackContext(loadConfig({}), loadStackSettings({}));

  test("captures every table of the one list, and the signalling table", () => {
    const { name, config } = connectorConfig(ctx);
    expect(name).toBe(ctx.config.connect.connector);
    expect(config["table.include.list"]!.split(",")).toEqual([...capturedTables.map((t) => `public.${t}`), "public.debezium_signal"]);
    expect(config["signal.data.collection"]).toBe("public.debezium_signal");
  });

  test("names one pipeline with literal values from the config: a test namespace gets a connector of its own", () => {
    const ns = createStackContext(loadConfig({ FEEDLINE_TOPIC_PREFIX: "feedline_test_x1", FEEDLINE_PG_DATABASE: "feedline_test_x1" }), loadStackSettings({}));
    const { name, config } = connectorConfig(ns);
    expect(name).toBe("feedline_test_x1-postgres");
    expect(config).toMatchObject({
      "database.dbname": "feedline_test_x1",
      "topic.prefix": "feedline_test_x1",
      "slot.name": "feedline_test_x1_debezium",
      "publication.name": "feedline_test_x1_publication",
    });
    expect(name).toBe(ns.config.connect.connector);
    expect(config["slot.name"]).toBe(ns.config.connect.slot);
  });

  test("keeps the file's own settings; the password stays a reference to Connect's environment", () => {
    const { config } = connectorConfig(ctx);
    expect(config["database.password"]).toBe("${env:FEEDLINE_PG_PASSWORD}");
    expect(config["publication.autocreate.mode"]).toBe("filtered");
    expect(config["tombstones.on.delete"]).toBe("false");
  });
});
