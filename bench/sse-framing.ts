/**
 * What framing a subscription's server-sent events costs: one subscription, served by tRPC's
 * fetch adapter and by src/api/sse.ts, each in a server process of its own, alternated.
 *
 *   npm run bench:sse -- [--streams 4000] [--events 10] [--rounds 2]
 *
 * Needs no stack. `--streams` plain-socket SSE clients (bench/sse.ts) hold the subscription; the
 * server then sends `--events` events of a live item's size to all of them, one at a time, each
 * once every stream has the one before. Reported per transport and round: the server's CPU per
 * delivered event (from /proc, the kernel's work for the loopback socket included) and how long an
 * event took to reach every stream.
 */
import { parseArgs } from "node:util";
import { Hono } from "hono";
import { initTRPC, tracked } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { serveSubscription } from "../src/api/sse";
import { freePort } from "../deploy/stack/proc";
import { cpuSeconds } from "./pipeline";
import { markdownTable, progressBar, record, summarize } from "./support";
import { openSse } from "./sse";

const { values } = parseArgs({
  options: {
    streams: { type: "string", default: "4000" },
    events: { type: "string", default: "10" },
    rounds: { type: "string", default: "2" },
    serve: { type: "string" },
    port: { type: "string" },
  },
});

if (values.serve) await serve(values.serve as Transport, Number(values.port));
else await measure();

type Transport = "trpc" | "sse.ts";

/** The server: one subscription, fed by `/fire`, on the transport named. */
async function serve(transport: Transport, port: number) {
  const t = initTRPC.create({ sse: { ping: { enabled: true, intervalMs: 15_000 } } });
  const listeners = new Set<(event: object) => void>();
  const router = t.router({
    events: t.procedure.subscription(async function* ({ signal }) {
      const queue: object[] = [];
      let wake: (() => void) | undefined;
      const listener = (event: object) => (queue.push(event), wake?.());
      listeners.add(listener);
      signal?.addEventListener("abort", () => wake?.());
      try {
        while (!signal?.aborted) {
          if (queue.length === 0) await new Promise<void>((r) => (wake = r));
          for (let e = queue.shift(); e; e = queue.shift()) yield tracked(`${(e as { seq: number }).seq}`, e);
        }
      } finally {
        listeners.delete(listener);
      }
    }),
  });
  const app = new Hono();
  app.post("/fire", async (c) => {
    const seq = Number(c.req.query("seq"));
    // About a rendered post as a live event carries it.
    const event = { type: "add", seq, mark: `~${seq}~`, item: { id: `shard:${seq}`, verb: "SHARD", actorId: "1", actorHandle: "someone", createdAt: new Date().toISOString(), object: { type: "post", id: `${seq}`, authorId: "1", body: "a post of an ordinary length, ".repeat(3), likes: 3, comments: 1 } } };
    for (const l of listeners) l(event);
    return c.text(`${listeners.size}`);
  });
  if (transport === "sse.ts") app.get("/trpc/events", serveSubscription(router, "events", { createContext: () => ({}), onError: () => {} }));
  app.all("/trpc/*", (c) => fetchRequestHandler({ endpoint: "/trpc", req: c.req.raw, router, createContext: () => ({}) }));
  Bun.serve({ port, hostname: "127.0.0.1", idleTimeout: 0, fetch: app.fetch });
  console.log("ready");
}

/** The client: each transport in turn, `--rounds` times. */
async function measure() {
  const streams = Number(values.streams);
  const events = Number(values.events);
  const rows: Record<string, string | number>[] = [];
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const transport of ["trpc", "sse.ts"] as const) rows.push({ round, transport, ...(await run(transport, streams, events)) });
  }
  console.log(`\n${markdownTable(rows)}`);
  record(
    "Live subscribers: SSE framing, tRPC's producer against src/api/sse.ts",
    `npm run bench:sse -- --streams ${streams} --events ${events} --rounds ${values.rounds}`,
    markdownTable(rows),
    `One subscription yielding \`tracked\` events of a rendered post's size, served by tRPC's fetch adapter alone ("trpc") and by src/api/sse.ts in front of it ("sse.ts"), each in a server process of its own; ${streams} plain-socket clients in the benchmark's process. CPU: the server's, from /proc, per delivered event (the kernel's work for the loopback sockets is charged to it, for both). Time: from the event's send until every stream has it.`,
  );
}

async function run(transport: Transport, streams: number, events: number) {
  const port = await freePort();
  const server = Bun.spawn([process.execPath, import.meta.path, "--serve", transport, "--port", `${port}`], { stdout: "pipe", stderr: "inherit" });
  try {
    const reader = server.stdout.getReader();
    for (let out = ""; !out.includes("ready"); ) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`${transport}: the server exited before it was ready (exit code ${await server.exited})`);
      out += new TextDecoder().decode(value);
    }
    const got = Array.from({ length: events }, () => 0);
    const opening = progressBar(`${transport}: opening streams`, streams);
    for (let i = 0; i < streams; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, streams - i) }, () =>
          openSse({ port, path: "/trpc/events", token: "-", onText: (text) => [...text.matchAll(/~(\d+)~/g)].forEach((m) => got[Number(m[1])]!++), onClose: () => {} }),
        ),
      );
      opening.tick(Math.min(100, streams - i));
    }
    opening.finish();
    await Bun.sleep(1_000);
    const before = cpuSeconds({ server: server.pid });
    const times: number[] = [];
    for (let seq = 0; seq < events; seq++) {
      const sent = performance.now();
      const listening = Number(await (await fetch(`http://127.0.0.1:${port}/fire?seq=${seq}`, { method: "POST" })).text());
      if (listening !== streams) throw new Error(`${transport}: ${listening} of ${streams} streams are listening`);
      while (got[seq]! < streams) await Bun.sleep(1);
      times.push(performance.now() - sent);
    }
    const cpu = ((cpuSeconds({ server: server.pid }).server! - before.server!) * 1e6) / (streams * events);
    const time = summarize(times);
    return { streams, events, "server CPU-µs per delivery": cpu.toFixed(1), "to every stream, p50 ms": time["p50 ms"]!, "max ms": time["max ms"]! };
  } finally {
    server.kill();
    await server.exited;
  }
}
