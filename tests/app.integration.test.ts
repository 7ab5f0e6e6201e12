import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp, requestContext } from "../src/app";
import { createCaller } from "../src/api";
import type { Services } from "../src/services";
import { openServices } from "./support/stack";

let services: Services;

beforeAll(async () => {
  services = await openServices();
});

afterAll(() => services.close());

const components = ["postgres", "redis", "kafka", "connect", "cassandra"];

describe("health", () => {
  test("GET /healthz reports every component green with 200", async () => {
    const res = await createApp(services).request("/healthz");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ok: boolean; components: Record<string, { ok: boolean }> };
    expect(body.ok).toBe(true);
    expect(Object.keys(body.components).sort()).toEqual([...components].sort());
    for (const name of components) expect(body.components[name]!.ok).toBe(true);
  });

  test("GET /healthz is 503 naming the component that does not answer", async () => {
    const failing = async () => ({
      ok: false,
      components: { postgres: { ok: true as const, ms: 1 }, kafka: { ok: false as const, ms: 3000, error: "no answer within 3000 ms" } },
    });
    const res = await createApp({ ...services, health: failing }).request("/healthz");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ok: false, components: { kafka: { ok: false, error: "no answer within 3000 ms" } } });
  });

  test("the tRPC health query answers through createCaller and over HTTP at /trpc", async () => {
    const report = await createCaller(requestContext(services, new Headers())).health();
    expect(report.ok).toBe(true);

    const res = await createApp(services).request("/trpc/health");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { data: { ok: boolean } } };
    expect(body.result.data.ok).toBe(true);
  });
});
