import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../deploy/stack/proc";
import { generousRates } from "../deploy/stack/service";
import { eventually, stackConfig } from "./support/stack";

// The single binary made by `npm run build` serves the same API, and the typed client example
// runs against it.

const repo = resolve(import.meta.dir, "..");
const dir = mkdtempSync(join(tmpdir(), "feedline-bin-"));
const binary = join(dir, "feedline");
let server: ChildProcess | undefined;
let port: number;
let output = "";

beforeAll(async () => {
  await stackConfig();
  const build = spawnSync(process.execPath, ["build", "--compile", "src/main.ts", "src/background-thread.ts", "--outfile", binary], { cwd: repo, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`bun build --compile failed:\n${build.stderr}`);
  port = await freePort();
  // The test's own client signs users up from this address: budgets out of reach, as for every test client.
  const env = { ...process.env, ...generousRates(), FEEDLINE_API_PORT: String(port), FEEDLINE_ADMIN_PORT: String(await freePort()) };
  server = spawn(binary, ["serve"], { env, stdio: ["ignore", "pipe", "pipe"] });
  server.stdout!.on("data", (d) => (output += d));
  server.stderr!.on("data", (d) => (output += d));
});

afterAll(() => {
  server?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
});

describe("the compiled binary", () => {
  test("starts and answers the health query with every component green", async () => {
    // It answers at once, and reports green once its stream stages have joined their groups.
    let last: unknown;
    const report = await eventually("the binary to report every component green", async () => {
      const res = await fetch(`http://127.0.0.1:${port}/trpc/health`).catch(() => undefined);
      if (!res?.ok) return undefined;
      last = await res.json();
      return (last as { result: { data: { ok: boolean } } }).result.data.ok ? (last as { result: { data: { ok: boolean } } }) : undefined;
    }, 60_000).catch((err) => {
      throw new Error(`${(err as Error).message}; last report: ${JSON.stringify(last)}`);
    });
    expect(report.result.data.ok).toBe(true);
    expect(output).toContain(`listening on http://127.0.0.1:${port}`);
  });

  test("serves the write API to the typed client example", () => {
    const run = spawnSync(process.execPath, ["examples/client.ts", `http://127.0.0.1:${port}`], { cwd: repo, encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/posted (\d+) \(retry returned \1\)/);
    expect(run.stdout).toContain("liking twice: ALREADY_LIKED (409)");
    // Pages render each item; notifications arrive grouped (through the binary's own workers).
    expect(run.stdout).toMatch(/ LIKE @bob_\w+'s post "Hello from the typed client!"/);
    expect(run.stdout).toMatch(/notification: @alice_\w+ liked your post "Hello from the typed client!"/);
    expect(run.stdout).toContain("after markSeen: 0 unseen");
  });

  test("mints a token for an existing user by handle, and names a missing one", async () => {
    const handle = `bin_${crypto.randomUUID().slice(0, 8)}`;
    const signUp = await fetch(`http://127.0.0.1:${port}/trpc/users.create`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ handle }),
    });
    const { result } = (await signUp.json()) as { result: { data: { user: { id: string } } } };

    const minted = spawnSync(binary, ["token", handle], { encoding: "utf8", env: process.env });
    expect(minted.status).toBe(0);
    const post = await fetch(`http://127.0.0.1:${port}/trpc/posts.create`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${minted.stdout.trim()}` },
      body: JSON.stringify({ body: "posted with a minted token" }),
    });
    expect(((await post.json()) as { result: { data: { authorId: string } } }).result.data.authorId).toBe(result.data.user.id);

    const missing = spawnSync(binary, ["token", "definitely_not_a_user"], { encoding: "utf8", env: process.env });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("no user has the handle definitely_not_a_user");
  });

  test("serves a live stream over server-sent events", async () => {
    const signUp = await fetch(`http://127.0.0.1:${port}/trpc/users.create`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ handle: `sse_${crypto.randomUUID().slice(0, 8)}` }),
    });
    const { token } = ((await signUp.json()) as { result: { data: { token: string } } }).result.data;
    const abort = new AbortController();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/trpc/feed.onItem`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
      expect(res.headers.get("content-type")).toBe("text/event-stream");
      const { value } = await res.body!.getReader().read();
      expect(new TextDecoder().decode(value)).toStartWith("event: connected\ndata: {}\n");
    } finally {
      abort.abort();
    }
  });
});
