import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createAdminApp, createApp, requestContext } from "../src/app";
import { publicHealth } from "../src/health";
import { createCaller } from "../src/api";
import type { Services } from "../src/services";
import { openServices } from "./support/stack";

let services: Services;

beforeAll(async () => {
  services = await openServices();
});

afterAll(() => services.close());

const components = ["postgres", "redis", "kafka", "registry", "connect", "cassandra"];

describe("health", () => {
  const failing = async () => ({
    ok: false,
    components: { postgres: { ok: true as const, ms: 1 }, kafka: { ok: false as const, ms: 3000, error: "no answer within 3000 ms: connect ECONNREFUSED 10.0.0.7:9092" } },
  });

  test("the public GET /healthz reports every component green with 200, up or down only", async () => {
    const res = await createApp(services).request("/healthz");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ok: boolean; components: Record<string, { ok: boolean }> };
    expect(body.ok).toBe(true);
    expect(Object.keys(body.components).sort()).toEqual([...components].sort());
    for (const name of components) expect(body.components[name]).toEqual({ ok: true });
  });

  test("the public GET /healthz is 503 when a component does not answer, without internal error text", async () => {
    const res = await createApp({ ...services, publicHealth: publicHealth(failing) }).request("/healthz");
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ ok: false, components: { postgres: { ok: true }, kafka: { ok: false } } });
    expect(text).not.toContain("ECONNREFUSED");
  });

  test("the public health is checked at most once per 2 s, however many ask at once", async () => {
    let checks = 0;
    const counted = publicHealth(async () => (checks++, services.health()));
    const app = createApp({ ...services, publicHealth: counted });
    const replies = await Promise.all(Array.from({ length: 200 }, () => app.request("/healthz")));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(checks).toBe(1);
  });

  test("the admin GET /healthz names the component that does not answer and why; /metrics is there and not on the public app", async () => {
    const admin = createAdminApp({ health: failing, metrics: services.metrics });
    const res = await admin.request("/healthz");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ok: false, components: { kafka: { ok: false, error: expect.stringContaining("no answer within 3000 ms") } } });
    expect((await admin.request("/metrics")).status).toBe(200);
    expect((await createApp(services).request("/metrics")).status).toBe(404);
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
