import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { lastLines, serviceCommand } from "../../deploy/stack/service";
import { loadConfig } from "../../src/config";

// How the launcher builds the service's command line and environment; nothing is started here.
const config = loadConfig({ FEEDLINE_PG_HOST: "db.example", FEEDLINE_PG_PORT: "6543", FEEDLINE_TOPIC_PREFIX: "other" });

describe("the service launcher", () => {
  test("runs src/main.ts serve with the role, under the Bun running us", () => {
    const { cmd, args } = serviceCommand({ config, role: "worker", port: 4100, adminPort: 4101 });
    expect(cmd).toBe(process.execPath);
    expect(args).toEqual([resolve(import.meta.dir, "../../src/main.ts"), "serve", "--role", "worker"]);
  });

  test("gives the child the configured addresses and the chosen port", () => {
    const { env } = serviceCommand({ config, role: "api", port: 4100, adminPort: 4101 });
    expect(env).toMatchObject({ FEEDLINE_PG_HOST: "db.example", FEEDLINE_PG_PORT: "6543", FEEDLINE_TOPIC_PREFIX: "other", FEEDLINE_API_PORT: "4100", FEEDLINE_ADMIN_PORT: "4101" });
  });

  test("lets the caller's environment override the stack's, but not the port it is watched on", () => {
    const { env } = serviceCommand({ config, role: "worker", port: 4100, adminPort: 4101, env: { FEEDLINE_STREAM_APPLY_DELAY_MS: "3000", FEEDLINE_PG_HOST: "elsewhere", FEEDLINE_API_PORT: "1" } });
    expect(env).toMatchObject({ FEEDLINE_STREAM_APPLY_DELAY_MS: "3000", FEEDLINE_PG_HOST: "elsewhere", FEEDLINE_API_PORT: "4100" });
  });

  test("an error shows only the last lines of the output", () => {
    const text = Array.from({ length: 50 }, (_, i) => `line ${i}`).join("\n");
    expect(lastLines(`${text}\n`, 3)).toBe("line 47\nline 48\nline 49");
    expect(lastLines("only\n", 3)).toBe("only");
  });
});
