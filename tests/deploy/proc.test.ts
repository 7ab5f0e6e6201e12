import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StackError } from "../../deploy/stack/errors";
import { ensurePortFree, isOurs, spawnDaemon, waitReady } from "../../deploy/stack/proc";

// These use real sockets and processes on this machine, but no stack component.
const dir = mkdtempSync(join(tmpdir(), "feedline-proc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("stack process handling", () => {
  test("a port taken by a foreign process gives an error naming the port and the variable to change", async () => {
    const foreign = createServer();
    await new Promise<void>((r) => foreign.listen(0, "127.0.0.1", r));
    const port = (foreign.address() as { port: number }).port;
    try {
      const attempt = ensurePortFree(port, "FEEDLINE_KAFKA_PORT", "kafka");
      await expect(attempt).rejects.toThrow(StackError);
      await expect(ensurePortFree(port, "FEEDLINE_KAFKA_PORT", "kafka")).rejects.toThrow(
        new RegExp(`port ${port} is already in use.*FEEDLINE_KAFKA_PORT=<port>`),
      );
    } finally {
      foreign.close();
    }
  });

  test("a free port passes", async () => {
    await expect(ensurePortFree(0, "FEEDLINE_X", "x")).resolves.toBeUndefined();
  });

  test("a component that dies during start-up fails at once with the last lines of its log", async () => {
    const script = join(dir, "dies.sh");
    writeFileSync(script, `#!/bin/sh\necho "starting ${dir}"\necho "FATAL: cannot bind" >&2\nexit 3\n`, { mode: 0o755 });
    const log = join(dir, "dies.log");
    const pidFile = join(dir, "dies.pid");
    const child = spawnDaemon(script, [dir], { log, pidFile });
    const started = Date.now();
    const attempt = waitReady({
      name: "dying",
      check: async () => {
        throw new Error("refused");
      },
      alive: child.running,
      log,
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    await expect(attempt).rejects.toThrow(/dying exited during start-up[\s\S]*FATAL: cannot bind/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test("a component that never answers fails at the deadline with the last check error", async () => {
    const attempt = waitReady({
      name: "silent",
      check: async () => {
        throw new Error("connection refused");
      },
      alive: () => true,
      log: join(dir, "missing.log"),
      timeoutMs: 200,
      intervalMs: 50,
    });
    await expect(attempt).rejects.toThrow(/silent was not ready within 0.2s \(last check: connection refused\)[\s\S]*no log written/);
  });

  test("a pid whose command line does not name our state dir is never taken for ours", () => {
    expect(isOurs(process.pid, "/definitely/not/our/state/dir")).toBe(false);
    expect(isOurs(undefined, dir)).toBe(false);
  });
});
