import { mkdirSync } from "node:fs";
import { probes } from "../../../src/health";
import { createRedis } from "../../../src/clients/redis";
import type { StackContext } from "../context";
import { type Component, daemon, withClient } from "./component";

/** The project's own Redis: loopback only, no persistence (it is a cache; losing it loses no data). */
export function redisComponent(ctx: StackContext): Component {
  const { port } = ctx.config.redis;
  const d = daemon(ctx, "redis");
  const probe = () =>
    withClient(
      () => createRedis(ctx.config.redis, { lazyConnect: true, quiet: true }),
      (r) => r.quit(),
      async (r) => {
        await r.connect();
        await probes.redis(r);
      },
    );
  return {
    name: "redis",
    ports: [{ port, variable: "FEEDLINE_REDIS_PORT" }],
    pid: d.pid,
    probe,
    log: d.log,
    readyTimeoutMs: 20_000,
    stop: d.stop,
    async start() {
      mkdirSync(ctx.data("redis"), { recursive: true });
      await d.start("redis-server", [
        "--port", String(port),
        "--bind", "127.0.0.1",
        "--daemonize", "no",
        "--dir", ctx.data("redis"),
        "--save", "",
        "--appendonly", "no",
        "--maxmemory-policy", "volatile-lru",
        // Keep argv as given, so the process stays recognisable as ours by its state dir.
        "--set-proc-title", "no",
      ], probe, 20_000);
    },
  };
}
