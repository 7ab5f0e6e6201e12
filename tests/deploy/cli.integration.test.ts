import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { createStack } from "../../deploy/stack/stack";
import { createStackContext } from "../../deploy/stack/context";
import { stackConfig } from "../support/stack";

const cli = resolve(import.meta.dir, "../../deploy/stack/cli.ts");
const runCli = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: process.env });

describe("the stack tool on a running stack", () => {
  test("`up` a second time starts nothing and leaves every process as it was", async () => {
    const stack = createStack(createStackContext(await stackConfig()));
    const before = stack.components.map((c) => c.pid());
    if (before.some((p) => p === undefined)) {
      console.warn("skipped: the stack answering here was not started by the stack tool");
      return;
    }
    const res = runCli("up");
    expect(res.status).toBe(0);
    expect(res.stdout).toContain("(nothing to start)");
    expect(res.stdout).not.toContain("starting ");
    expect(res.stdout).not.toMatch(/connector .* (registered|updated)/);
    expect(stack.components.map((c) => c.pid())).toEqual(before);
  });

  test("`setup` (what compose runs) applies the set-up steps to the running components, starts nothing and changes nothing", async () => {
    const stack = createStack(createStackContext(await stackConfig()));
    const before = stack.components.map((c) => c.pid());
    const res = runCli("setup");
    expect(res.status).toBe(0);
    expect(res.stdout + res.stderr).not.toContain("starting ");
    expect(res.stdout).not.toMatch(/connector .* (registered|updated)/);
    expect(res.stdout).not.toMatch(/applied \d+_/); // every migration was already applied
    expect(res.stdout).not.toContain("created "); // every topic exists
    expect(stack.components.map((c) => c.pid())).toEqual(before);
  });

  test("`status` exits 0 and lists every component as ready", async () => {
    const res = runCli("status");
    expect(res.status).toBe(0);
    for (const name of ["postgres", "redis", "kafka", "registry", "connect", "cassandra"]) expect(res.stdout).toMatch(new RegExp(`✓ ${name}\\s+\\d+\\s+ready`));
  });

  test("an unknown command prints the usage and exits 2", () => {
    const res = runCli("sideways");
    expect(res.status).toBe(2);
    expect(res.stderr).toContain("usage: npm run stack");
  });
});
