import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { createApp, requestContext } from "../../src/app";
import { createMetrics } from "../../src/metrics";
import { createCaller } from "../../src/api";
import { createServices, type Services } from "../../src/services";
import { createLiveFeed } from "../../src/feeds/live";
import { expireKeys } from "../../src/source/idempotency";
import { startKeyExpiry } from "../../src/source/key-expiry";
import { callerFor, rowCounts, signUp } from "../support/api";
import { eventually, openServices, uniqueHandle } from "../support/stack";
import { forgeToken } from "../support/tokens";

// The findings of the security review, each tried over HTTP the way an attacker would
// (docs/security.md). Every refused call is checked to have written nothing.

let services: Services;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  services = await openServices();
  app = createApp(services);
});
afterAll(() => services.close());

type Reply = { status: number; json: { result?: { data: { user: { id: string }; token: string } }; error?: { message: string; data: { appCode: string } } } };

async function call(procedure: string, input: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await app.request(`/trpc/${procedure}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(input),
  });
  return { status: res.status, json: (await res.json()) as Reply["json"] };
}

const now = () => Math.floor(Date.now() / 1000);

describe("tokens", () => {
  test("a token signed with the development secret earlier versions published posts nothing", async () => {
    const victim = await signUp(services, "victim");
    const published = "feedline-development-secret-do-not-use-in-production";
    for (const version of ["fl1", "fl2"] as const) {
      const before = await rowCounts(services);
      const reply = await call("posts.create", { body: "forged" }, { authorization: `Bearer ${forgeToken(published, victim.user.id, now() + 3600, version)}` });
      expect([version, reply.status, reply.json.error?.data.appCode]).toEqual([version, 401, "UNAUTHENTICATED"]);
      expect(await rowCounts(services)).toEqual(before);
    }
  });

  test("a token claiming ten years of life is refused even when signed with the service's own secret", async () => {
    const victim = await signUp(services, "victim");
    const secret = services.config.auth.secrets[0];
    expect(secret).toBeDefined(); // the stack gives the tests its secret (deploy/stack/secret.ts)
    const reply = await call("posts.create", { body: "forever" }, { authorization: `Bearer ${forgeToken(secret!, victim.user.id, now() + 10 * 365 * 86_400, "fl2")}` });
    expect([reply.status, reply.json.error?.data.appCode]).toEqual([401, "UNAUTHENTICATED"]);
    expect(reply.json.error!.message).toContain("longer life");
  });
});

describe("secure by default", () => {
  const main = resolve(import.meta.dir, "../../src/main.ts");
  const run = (args: string[], env: Record<string, string>) => spawnSync(process.execPath, [main, ...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 30_000 });

  test("an API on a non-loopback address refuses to start without a secret, naming the variable", () => {
    const res = run(["serve", "--role", "api"], { FEEDLINE_API_HOST: "0.0.0.0", FEEDLINE_TOKEN_SECRET: "" });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain("FEEDLINE_TOKEN_SECRET is not set");
  });

  test("the published development secret is refused as configuration", () => {
    const res = run(["serve", "--role", "api"], { FEEDLINE_TOKEN_SECRET: "feedline-development-secret-do-not-use-in-production" });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain("published development secret");
  });

  test("`token` without a secret refuses rather than mint a token nothing verifies", () => {
    const res = run(["token", "someone"], { FEEDLINE_TOKEN_SECRET: "" });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain("FEEDLINE_TOKEN_SECRET is not set");
  });
});

describe("sign-up idempotency keys", () => {
  const key = () => `signup-${crypto.randomUUID()}`;

  test("a key someone claimed first does not block another handle's sign-up", async () => {
    const shared = key();
    const squatter = await call("users.create", { handle: uniqueHandle("squat") }, { "idempotency-key": shared });
    const real = await call("users.create", { handle: uniqueHandle("real") }, { "idempotency-key": shared });
    expect([squatter.status, real.status]).toEqual([200, 200]);
    expect(real.json.result!.data.user.id).not.toBe(squatter.json.result!.data.user.id);
  });

  test("keys shorter than 32 characters are refused for sign-up, as a header and as a field, and nothing is written", async () => {
    for (const [input, headers] of [
      [{ handle: uniqueHandle("k") }, { "idempotency-key": "signup-carol" }],
      [{ handle: uniqueHandle("k"), idempotencyKey: "signup-carol" }, {}],
    ] as const) {
      const before = await rowCounts(services);
      const reply = await call("users.create", input, headers);
      expect([reply.status, reply.json.error?.data.appCode]).toEqual([400, "INVALID_INPUT"]);
      expect(await rowCounts(services)).toEqual(before);
    }
  });

  test("a replay after the key's short life is a new request: it mints no token for the existing account", async () => {
    const k = key();
    const handle = uniqueHandle("late");
    const first = await call("users.create", { handle }, { "idempotency-key": k });
    expect(first.status).toBe(200);
    // Ten minutes later (FEEDLINE_SIGNUP_KEY_TTL_SECONDS): the key is as old as that.
    await services.sql`update idempotency_keys set created_at = now() - interval '11 minutes' where scope = ${`signup:${handle}`} and key = ${k}`;
    const replay = await call("users.create", { handle }, { "idempotency-key": k });
    expect([replay.status, replay.json.error?.data.appCode]).toEqual([409, "HANDLE_TAKEN"]);
    expect(replay.json.result).toBeUndefined();
  });
});

describe("the Idempotency-Key header", () => {
  test("is checked by the field's rule: a short key and a 12,000-character one are refused and write nothing", async () => {
    const alice = await signUp(services, "hdr");
    for (const bad of ["short", "k".repeat(12_000), "spaces are not allowed here"]) {
      const before = await rowCounts(services);
      const reply = await call("posts.create", { body: "hello" }, { authorization: `Bearer ${alice.token}`, "idempotency-key": bad });
      expect([bad.slice(0, 10), reply.status, reply.json.error?.data.appCode]).toEqual([bad.slice(0, 10), 400, "INVALID_INPUT"]);
      expect(reply.json.error!.message).toContain("Idempotency-Key header");
      expect(await rowCounts(services)).toEqual(before);
    }
  });

  test("the worker role's expiry job runs by itself", async () => {
    const alice = await signUp(services, "job");
    const old = `job-${crypto.randomUUID()}`;
    await call("posts.create", { body: "old" }, { authorization: `Bearer ${alice.token}`, "idempotency-key": old });
    await services.sql`update idempotency_keys set created_at = now() - interval '25 hours' where key = ${old}`;
    const job = startKeyExpiry({ sql: services.sql, lifetimes: services.config.idempotency, metrics: services.metrics, everyMs: 100 });
    try {
      await eventually("the old key to be deleted", async () => ((await services.sql`select 1 from idempotency_keys where key = ${old}`).length === 0 ? true : undefined), 10_000);
    } finally {
      await job.stop();
    }
  });

  test("keys past their life are deleted by the expiry job, and newer ones are kept", async () => {
    const alice = await signUp(services, "exp");
    const [old, fresh] = [`old-${crypto.randomUUID()}`, `new-${crypto.randomUUID()}`];
    await call("posts.create", { body: "one" }, { authorization: `Bearer ${alice.token}`, "idempotency-key": old });
    await call("posts.create", { body: "two" }, { authorization: `Bearer ${alice.token}`, "idempotency-key": fresh });
    await services.sql`update idempotency_keys set created_at = now() - interval '25 hours' where key = ${old}`;
    expect(await expireKeys(services.sql, services.config.idempotency)).toBeGreaterThanOrEqual(1);
    const left = await services.sql`select key from idempotency_keys where key in (${old}, ${fresh})`;
    expect(left.map((r) => r.key)).toEqual([fresh]);
  });
});

describe("limits", () => {
  test("a body past the limit is 413 before it is read whole, and writes nothing", async () => {
    const before = await rowCounts(services);
    const huge = JSON.stringify({ handle: uniqueHandle("big"), displayName: "x".repeat(services.config.api.maxBodyBytes) });
    const res = await app.request("/trpc/users.create", { method: "POST", headers: { "content-type": "application/json" }, body: huge });
    expect(res.status).toBe(413);
    expect(((await res.json()) as Reply["json"]).error?.data.appCode).toBe("PAYLOAD_TOO_LARGE");
    // Streamed without a length: counted as it arrives.
    const stream = new Blob([huge]).stream();
    const chunked = await app.request("/trpc/users.create", { method: "POST", headers: { "content-type": "application/json" }, body: stream });
    expect(chunked.status).toBe(413);
    expect(await rowCounts(services)).toEqual(before);
  });

  test("padding is not a way past the maximum: text is normalised, then checked as stored", async () => {
    const alice = await signUp(services, "pad");
    const padded = await call("posts.create", { body: `${" ".repeat(100)}x` }, { authorization: `Bearer ${alice.token}` });
    expect(padded.status).toBe(200);
    const [row] = await services.sql`select body from posts where author_id = ${alice.user.id}`;
    expect(row!.body).toBe("x");
  });

  test("control characters, ANSI escapes, bidi overrides and lone surrogates are refused; NFC is stored", async () => {
    const alice = await signUp(services, "txt");
    const auth = { authorization: `Bearer ${alice.token}` };
    for (const body of ["a\u202Eb", "\u001b[31mred", "bell\u0007", "a\uD800b", "c1\u0085"]) {
      const before = await rowCounts(services);
      const reply = await call("posts.create", { body }, auth);
      expect([JSON.stringify(body), reply.status, reply.json.error?.data.appCode]).toEqual([JSON.stringify(body), 400, "INVALID_INPUT"]);
      expect(await rowCounts(services)).toEqual(before);
    }
    const name = await call("users.create", { handle: uniqueHandle("nl"), displayName: "two\nlines" });
    expect(name.status).toBe(400);
    const ok = await call("posts.create", { body: "cafe\u0301\r\nnext line" }, auth);
    expect(ok.status).toBe(200);
    const [row] = await services.sql`select body from posts where author_id = ${alice.user.id}`;
    expect(row!.body).toBe("caf\u00e9\nnext line");
  });

  test("a batch of more calls than the limit is refused whole; within the limit each call stands alone", async () => {
    const alice = await signUp(services, "batch");
    const max = services.config.api.maxBatch;
    const batch = (n: number) =>
      app.request(`/trpc/${Array(n).fill("posts.create").join(",")}?batch=1`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${alice.token}` },
        body: JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [i, { body: `batched ${i}` }]))),
      });
    const before = await rowCounts(services);
    expect((await batch(max + 1)).status).toBe(400);
    expect(await rowCounts(services)).toEqual(before);
    expect((await batch(max)).status).toBe(200);
    expect((await rowCounts(services)).posts).toBe(before.posts + max);
  });

  test("a token in the URL (connection params) is accepted for subscriptions only", async () => {
    const alice = await signUp(services, "url");
    const params = encodeURIComponent(JSON.stringify({ authorization: `Bearer ${alice.token}` }));
    const before = await rowCounts(services);
    const res = await app.request(`/trpc/posts.create?connectionParams=${params}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ body: "token in the url" }),
    });
    expect(res.status).toBe(401);
    expect(await rowCounts(services)).toEqual(before);
  });
});

describe("live streams", () => {
  /** Opens feed.onItem as `token` over a caller; resolves once the stream is open (or rejects as the procedure does). */
  async function openStream(token: string) {
    const abort = new AbortController();
    const context = requestContext(services, new Headers({ authorization: `Bearer ${token}` }));
    const iterable = await createCaller(context, { signal: abort.signal }).feed.onItem();
    const done = (async () => {
      for await (const _ of iterable) {
        // events are not what these tests look at
      }
    })();
    return { abort: async () => (abort.abort(), await done.catch(() => {})), done };
  }

  test("a user holds at most the configured number of streams, across processes; closing one frees a place", async () => {
    const alice = await signUp(services, "many");
    const max = services.config.live.maxPerUser;
    const open = [];
    for (let i = 0; i < max; i++) open.push(await openStream(alice.token));
    await expect(openStream(alice.token)).rejects.toMatchObject({ code: "TOO_MANY_REQUESTS" });
    // A second API process sees the same count (it is kept in Redis).
    const other = await openServices();
    try {
      await expect(callerFor(other, alice.token).feed.onItem()).rejects.toMatchObject({ code: "TOO_MANY_REQUESTS" });
    } finally {
      await other.close();
    }
    await open.pop()!.abort();
    const again = await openStream(alice.token);
    for (const s of [...open, again]) await s.abort();
  });

  test("over HTTP (server-sent events), the refusal is an error event with TOO_MANY_REQUESTS, and the stream ends", async () => {
    const alice = await signUp(services, "http429");
    const max = services.config.live.maxPerUser;
    const open = [];
    for (let i = 0; i < max; i++) open.push(await openStream(alice.token));
    const res = await app.request(`/trpc/feed.onItem`, { headers: { authorization: `Bearer ${alice.token}`, accept: "text/event-stream" } });
    const body = await Promise.race([res.text(), Bun.sleep(10_000).then(() => "(still open)")]);
    expect(body).toContain("serialized-error");
    expect(body).toContain("TOO_MANY_REQUESTS");
    for (const s of open) await s.abort();
  });

  test("a HEAD, a batch or input that is not JSON on a subscription is answered as tRPC answers it, and opens no stream", async () => {
    const alice = await signUp(services, "nostream");
    const headers = { authorization: `Bearer ${alice.token}`, accept: "text/event-stream" };
    const head = await app.request("/trpc/feed.onItem", { method: "HEAD", headers });
    expect(head.status).toBe(204); // tRPC's fetch adapter answers any HEAD so, with no body
    expect(head.headers.get("content-type")).toBeNull();
    const batch = await app.request(`/trpc/feed.onItem?batch=1&input=${encodeURIComponent("{}")}`, { headers });
    expect(batch.status).toBe(400);
    expect(await batch.text()).toContain("Cannot batch subscription calls");
    // Input is parsed by the procedure's call, as in tRPC's handler: the stream opens, says why, and ends.
    const garbage = await app.request("/trpc/feed.onItem?input=%7Bnot-json", { headers });
    const body = await Promise.race([garbage.text(), Bun.sleep(10_000).then(() => "(still open)")]);
    expect(body).toStartWith("event: connected");
    expect(body).toContain("event: serialized-error");
    expect(body).toContain('"appCode":"INVALID_INPUT"');
    await Bun.sleep(200);
    expect(await services.redis.zscore(services.live.registry.keyOf(alice.user.id), alice.user.id)).toBeNull();
  });

  test("registrations of streams that are gone are pruned from their shard of feed:live as new ones open", async () => {
    const alice = await signUp(services, "prune");
    // A gone stream's registration in the shard alice's registration goes to.
    let stale = "";
    do stale = `gone-${crypto.randomUUID()}`;
    while (services.live.registry.keyOf(stale) !== services.live.registry.keyOf(alice.user.id));
    await services.redis.zadd(services.live.registry.keyOf(stale), Date.now() - 60_000, stale);
    await Bun.sleep(1_100); // a process prunes a shard at most once a second
    const stream = await openStream(alice.token);
    expect(await services.redis.zscore(services.live.registry.keyOf(stale), stale)).toBeNull();
    expect(Number(await services.redis.zscore(services.live.registry.keyOf(alice.user.id), alice.user.id))).toBeGreaterThan(Date.now());
    await stream.abort();
  });

  test("a reader that falls too far behind gets what was buffered, then an error telling it to reconnect", async () => {
    const metrics = createMetrics();
    const live = createLiveFeed({ redis: services.redis, maxPerUser: 5, maxQueue: 3, metrics });
    const user = `slow-${crypto.randomUUID()}`;
    const events = await live.subscribe(user);
    expect(await metrics.render()).toContain("\nfeedline_live_streams 1\n");
    for (let i = 0; i < 6; i++) await live.publish([user], [{ type: "remove", id: `gone-${i}` }]);
    await Bun.sleep(200); // the messages reach the subscriber connection
    const got: string[] = [];
    const ending = (async () => {
      for await (const e of events) if (e.type === "remove") got.push(e.id);
    })();
    await expect(ending).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(got).toEqual(["gone-0", "gone-1", "gone-2"]);
    // An operator sees it: the stream ended for falling behind, and is no longer counted as open.
    const after = await metrics.render();
    expect(after).toContain('\nfeedline_live_streams_ended_total{reason="behind"} 1\n');
    expect(after).toContain("\nfeedline_live_streams 0\n");
    await live.close();
  });

  test("a stream ends when its token expires", async () => {
    const alice = await signUp(services, "ttl");
    const secret = services.config.auth.secrets[0]!;
    const shortLived = forgeToken(secret, alice.user.id, now() + 2, "fl2");
    const stream = await openStream(shortLived);
    const ended = await Promise.race([stream.done.then(() => "ended"), Bun.sleep(10_000).then(() => "still open")]);
    expect(ended).toBe("ended");
    await stream.abort();
  });
});

describe("rate limits", () => {
  const low = { signupsPerHour: 3, writesPerMinute: 5, followsPerHour: 4, readsPerMinute: 10, anonymousReadsPerMinute: 6 };
  let limited: Services;
  let limitedApp: ReturnType<typeof createApp>;
  beforeAll(async () => {
    // One proxy in front: the client's address is the last X-Forwarded-For entry, so each test can be its own client.
    limited = await createServices({ ...services.config, rates: low, trustedProxies: 1 });
    limitedApp = createApp(limited);
  });
  afterAll(() => limited.close());

  const address = () => `198.51.100.${Math.floor(Math.random() * 250) + 1}, 10.0.0.${Math.floor(Math.random() * 250) + 1}`;
  async function send(procedure: string, input: unknown, headers: Record<string, string>) {
    const res = await limitedApp.request(`/trpc/${procedure}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(input) });
    return { status: res.status, retryAfter: res.headers.get("retry-after"), json: (await res.json()) as Reply["json"] };
  }

  test("sign-ups are counted per client address: past the budget 429 with Retry-After, nothing written; another address goes on", async () => {
    const from = { "x-forwarded-for": address() };
    for (let i = 0; i < low.signupsPerHour; i++) expect((await send("users.create", { handle: uniqueHandle("rl") }, from)).status).toBe(200);
    const before = await rowCounts(services);
    const over = await send("users.create", { handle: uniqueHandle("rl") }, from);
    expect([over.status, over.json.error?.data.appCode]).toEqual([429, "TOO_MANY_REQUESTS"]);
    expect(Number(over.retryAfter)).toBeGreaterThan(0);
    expect(Number(over.retryAfter)).toBeLessThanOrEqual(3600);
    expect(await rowCounts(services)).toEqual(before);
    expect((await send("users.create", { handle: uniqueHandle("rl") }, { "x-forwarded-for": address() })).status).toBe(200);
  });

  test("writes are counted per user, each call of a batch on its own", async () => {
    const [alice, bob] = [await signUp(services, "rlw"), await signUp(services, "rlw")];
    const batch = await limitedApp.request(`/trpc/${Array(low.writesPerMinute + 1).fill("posts.create").join(",")}?batch=1`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${alice.token}` },
      body: JSON.stringify(Object.fromEntries(Array.from({ length: low.writesPerMinute + 1 }, (_, i) => [i, { body: `post ${i}` }]))),
    });
    const results = (await batch.json()) as { error?: { data: { appCode: string } } }[];
    expect(results.filter((r) => !r.error)).toHaveLength(low.writesPerMinute);
    expect(results.filter((r) => r.error?.data.appCode === "TOO_MANY_REQUESTS")).toHaveLength(1);
    expect((await services.sql`select count(*)::int as n from posts where author_id = ${alice.user.id}`)[0]!.n).toBe(low.writesPerMinute);
    expect((await send("posts.create", { body: "bob is fine" }, { authorization: `Bearer ${bob.token}` })).status).toBe(200);
  });

  test("follow churn has its own budget", async () => {
    const [fan, star] = [await signUp(services, "rlf"), await signUp(services, "rlf")];
    const auth = { authorization: `Bearer ${fan.token}` };
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await send("follows.follow", { userId: star.user.id }, auth)).status);
      statuses.push((await send("follows.unfollow", { userId: star.user.id }, auth)).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    expect((await send("posts.create", { body: "writes are another budget" }, auth)).status).toBe(200);
  });

  test("reads are counted per user, anonymous reads per address; X-Forwarded-For past the trusted proxy is not believed", async () => {
    const reader = await signUp(services, "rlr");
    const get = (headers: Record<string, string>) =>
      limitedApp.request(`/trpc/users.get?input=${encodeURIComponent(JSON.stringify({ userId: reader.user.id }))}`, { headers });
    const statuses: number[] = [];
    for (let i = 0; i <= low.readsPerMinute; i++) statuses.push((await get({ authorization: `Bearer ${reader.token}` })).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(low.readsPerMinute);
    expect(statuses.at(-1)).toBe(429);
    // Anonymous, one client behind the trusted proxy: a forged first entry does not make a new client.
    const proxy = `10.1.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
    const anonymous: number[] = [];
    for (let i = 0; i <= low.anonymousReadsPerMinute; i++) anonymous.push((await get({ "x-forwarded-for": `203.0.113.${i}, ${proxy}` })).status);
    expect(anonymous.at(-1)).toBe(429);
  });
});
