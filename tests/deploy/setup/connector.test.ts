import { describe, expect, test } from "bun:test";
import { createStackContext } from "../../../deploy/stack/context";
import { loadStackSettings } from "../../../deploy/stack/settings";
import { connectorConfig } from "../../../deploy/stack/setup/connector";
import { capturedTables, loadConfig } from "../../../src/config";

describe("the connector config", () => {
  const ctx = createStackContext(loadConfig({}), loadStackSettings({}));

  test("captures every table of the one list, and the signalling table", () => {
    const { name, config } = connectorConfig(ctx);
    expect(name).toBe(ctx.config.connect.connector);
    expect(config["table.include.list"]!.split(",")).toEqual([...capturedTables.map((t) => `public.${t}`), "public.debezium_signal"]);
    expect(config["signal.data.collection"]).toBe("public.debezium_signal");
  });

  test("keeps the file's own settings, which read the database and topic prefix from Connect's environment", () => {
    const { config } = connectorConfig(ctx);
    expect(config["topic.prefix"]).toBe("${env:FEEDLINE_TOPIC_PREFIX}");
    expect(config["publication.autocreate.mode"]).toBe("filtered");
    expect(config["tombstones.on.delete"]).toBe("false");
  });
});
