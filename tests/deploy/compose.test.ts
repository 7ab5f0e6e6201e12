import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

// docker-compose.yml cannot run here (no Docker engine): these check what can be checked without it.
const repo = resolve(import.meta.dir, "../..");
type Service = { build?: { dockerfile: string; target: string }; command?: string[]; environment?: Record<string, string>; ports?: string[]; depends_on?: Record<string, unknown> };
const compose = Bun.YAML.parse(readFileSync(`${repo}/docker-compose.yml`, "utf8")) as { services: Record<string, Service> };
const setup = compose.services.setup!;

describe("docker-compose.yml's set-up", () => {
  test("runs the stack tool's `setup` in an image stage that exists", () => {
    expect(setup.command).toEqual(["setup"]);
    const dockerfile = readFileSync(`${repo}/${setup.build!.dockerfile}`, "utf8");
    expect(dockerfile).toMatch(new RegExp(`^FROM .* AS ${setup.build!.target}\\nENTRYPOINT \\["bun", "deploy/stack/cli.ts"\\]`, "m"));
    const help = spawnSync(process.execPath, [`${repo}/deploy/stack/cli.ts`, "setup", "--help"], { encoding: "utf8", env: {} });
    expect(help.status).toBe(0);
    expect(help.stderr).toContain("  setup ");
  });

  test("points every address at a compose service's container port, and the stack is ready only after it", () => {
    const env = setup.environment!;
    for (const [service, variable] of [["postgres", "PG"], ["kafka", "KAFKA"], ["registry", "REGISTRY"], ["connect", "CONNECT"], ["cassandra", "CASSANDRA"]] as const) {
      expect(env[`FEEDLINE_${variable}_HOST`]).toBe(service);
      expect(Object.keys(setup.depends_on!)).toContain(service);
    }
    // Kafka is reached on its internal listener; the others on the container port they publish.
    expect(compose.services.kafka!.environment!.KAFKA_ADVERTISED_LISTENERS).toContain(`INTERNAL://kafka:${env.FEEDLINE_KAFKA_PORT}`);
    for (const [service, variable] of [["postgres", "PG"], ["registry", "REGISTRY"], ["connect", "CONNECT"], ["cassandra", "CASSANDRA"]] as const) {
      expect(compose.services[service]!.ports!.map((p) => p.split(":").at(-1))).toContain(env[`FEEDLINE_${variable}_PORT`]);
    }
    expect(compose.services.ready!.depends_on).toHaveProperty("setup", { condition: "service_completed_successfully" });
  });
});
