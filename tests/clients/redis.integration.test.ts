import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Services } from "../../src/services";
import { openServices } from "../support/stack";

let services: Services;
const key = `test:feed:${crypto.randomUUID()}`;

beforeAll(async () => {
  services = await openServices();
});

afterAll(async () => {
  await services.redis.del(key);
  await services.close();
});

describe("Redis under Bun", () => {
  test("a pipelined sorted-set write, trim and expiry round-trips newest first", async () => {
    const results = await services.redis
      .multi()
      .zadd(key, 1000, "shard:1", 3000, "shard:3", 2000, "shard:2", 4000, "shard:4")
      .zremrangebyrank(key, 0, -4) // keep the newest three
      .expire(key, 60)
      .exec();
    expect(results?.every(([err]) => err === null)).toBe(true);

    expect(await services.redis.zrevrange(key, 0, -1)).toEqual(["shard:4", "shard:3", "shard:2"]);
    const ttl = await services.redis.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
  });

  test("the service's Redis is its own instance, not the machine's on 6379", async () => {
    const info = await services.redis.info("server");
    expect(info).toContain(`tcp_port:${services.config.redis.port}`);
    expect(services.config.redis.port).not.toBe(6379);
  });
});
