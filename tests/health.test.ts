import { describe, expect, test } from "bun:test";
import { checkHealth } from "../src/health";

describe("checkHealth", () => {
  test("reports every component and is ok only when all answer", async () => {
    const report = await checkHealth({
      up: async () => {},
      down: async () => {
        throw new Error("connection refused");
      },
    });
    expect(report.ok).toBe(false);
    expect(report.components.up?.ok).toBe(true);
    expect(report.components.down).toMatchObject({ ok: false, error: "connection refused" });
  });

  test("a check that never answers is reported down at the timeout instead of hanging", async () => {
    const report = await checkHealth({ stuck: () => new Promise(() => {}) }, 50);
    expect(report.components.stuck).toMatchObject({ ok: false, error: "no answer within 50 ms" });
  });

  test("all answering is ok", async () => {
    expect((await checkHealth({ a: async () => {}, b: async () => {} })).ok).toBe(true);
  });
});
