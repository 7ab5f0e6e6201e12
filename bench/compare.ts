import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { withStackSecret } from "../deploy/stack/secret";
import { generousRates } from "../deploy/stack/service";
import { cpuSeconds, stackPids } from "./pipeline";
import { loadConfig } from "../src/config";
import { cacheKeys } from "../src/feeds/cache-keys";
import { markdownTable, record, redisBenchmark, wrk } from "./support";

/**
 * Two builds of the API side by side, against the same running stack and the same warm feed:
 * `feed.home` cache hits with wrk, alternating rounds, CPU-ms per request of each service and of
 * Redis read from /proc, and redis-benchmark's ZREVRANGE in the same run as the yardstick. For
 * what a change costs: `npm run bench:compare -- --before <checkout> [--after .]`, where a
 * checkout is a worktree of an earlier commit (`git worktree add /tmp/before <rev>`, with
 * node_modules linked). Needs the stack up and wrk installed.
 */
const { values } = parseArgs({ options: { before: { type: "string" }, after: { type: "string", default: "." }, rounds: { type: "string", default: "3" }, seconds: { type: "string", default: "10" } } });
if (!values.before) throw new Error("usage: npm run bench:compare -- --before <checkout> [--after <checkout>] [--rounds 3] [--seconds 10]");
const builds = [{ name: "before", dir: resolve(values.before), port: 3200 }, { name: "after", dir: resolve(values.after!), port: 3300 }];
// The stack's secret, so both builds verify one token; budgets out of reach (the limiter, where there is one, still runs).
const env = { ...withStackSecret(), ...generousRates() };
const children: ChildProcess[] = builds.map((b) =>
  spawn(process.execPath, [`${b.dir}/src/main.ts`, "serve", "--role", "api"], {
    env: { ...env, FEEDLINE_API_PORT: String(b.port), FEEDLINE_ADMIN_PORT: String(b.port + 1) },
    stdio: ["ignore", "ignore", "inherit"],
  }),
);
try {
  for (const b of builds) await until(`http://127.0.0.1:${b.port}/healthz`);
  const base = `http://127.0.0.1:${builds[0]!.port}/trpc`;
  const post = (path: string, body: unknown, token?: string) =>
    fetch(`${base}/${path}`, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  const { result } = (await (await post("users.create", { handle: `cmp${Date.now() % 1e9}` })).json()) as { result: { data: { token: string; user: { id: string } } } };
  const { token, user } = result.data;
  for (let i = 0; i < 30; i++) await post("posts.create", { body: `post ${i}` }, token);
  await Bun.sleep(3000); // the workers fan the posts out
  const path = `/trpc/feed.home?input=${encodeURIComponent(JSON.stringify({ limit: 20 }))}`;
  for (const b of builds) for (let i = 0; i < 50; i++) await fetch(`http://127.0.0.1:${b.port}${path}`, { headers: { authorization: `Bearer ${token}` } });
  await Bun.write("/tmp/feedline-compare.lua", `wrk.headers["authorization"] = "Bearer ${token}"`);
  const redisPid = stackPids().redis;
  const rows: Record<string, string | number>[] = [];
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const [i, b] of builds.entries()) {
      const before = cpuSeconds({ service: children[i]!.pid, redis: redisPid });
      const r = wrk(`http://127.0.0.1:${b.port}${path}`, { threads: 2, connections: 32, seconds: Number(values.seconds), script: "/tmp/feedline-compare.lua" });
      const after = cpuSeconds({ service: children[i]!.pid, redis: redisPid });
      rows.push({
        round,
        build: b.name,
        "pages/s": Math.round(r.perSecond),
        "p99 ms": r.p99.toFixed(2),
        "service CPU-ms/page": (((after.service! - before.service!) * 1000) / r.requests).toFixed(3),
        "Redis CPU-ms/page": (((after.redis! - before.redis!) * 1000) / r.requests).toFixed(3),
      });
      console.log(JSON.stringify(rows.at(-1)));
    }
  }
  const config = loadConfig();
  const yardstick = redisBenchmark(config.redis.port, ["zrevrange", `${config.redis.keyPrefix}${cacheKeys(user.id)[0]}`, "0", "19", "WITHSCORES"], { clients: 32, requests: 200_000 }).line;
  record(
    "Two builds side by side: feed.home cache hits",
    `npm run bench:compare -- --before ${values.before} --after ${values.after} --rounds ${values.rounds} --seconds ${values.seconds}`,
    markdownTable(rows),
    `wrk -t2 -c32 against each build's API process in turn (same stack, same warm 20-item page). redis-benchmark in the same run: ${yardstick}.`,
  );
} finally {
  for (const c of children) c.kill("SIGTERM");
}

async function until(url: string) {
  for (let i = 0; i < 200; i++) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await Bun.sleep(300);
  }
  throw new Error(`${url} never answered 200`);
}
