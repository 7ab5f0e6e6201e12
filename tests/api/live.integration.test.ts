import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTRPCClient, httpSubscriptionLink } from "@trpc/client";
import { EventSource } from "eventsource";
import { connect } from "node:net";
import { isTrackedEnvelope } from "@trpc/server";
import { createApp, requestContext } from "../../src/app";
import { type AppRouter, createCaller } from "../../src/api";
import { cacheKeys } from "../../src/feeds/cache-keys";
import { type LiveEvent, createLiveFeed } from "../../src/feeds/live";
import { callerFor, openLive, registered, signUp } from "../support/api";
import { sharedWorker, sharedWorkerLog } from "../support/pipeline";
import { eventually, useServices } from "../support/stack";

// feed.onItem: a live timeline. Items written by the workers after the subscription opened arrive
// on it, through a tRPC caller and over HTTP as server-sent events.

const services = useServices();
let server: ReturnType<typeof Bun.serve> | undefined;
beforeAll(async () => {
  await sharedWorker();
});
afterAll(() => server?.stop(true));

describe("feed.onItem", () => {
  test("delivers an item of the caller's home feed written after the subscription opened", async () => {
    const [author, fan] = [await signUp(services(), "live"), await signUp(services(), "live")];
    await fan.as.follows.follow({ userId: author.user.id });
    const abort = new AbortController();
    const received: { id: string; verb: string }[] = [];
    const headers = new Headers({ authorization: `Bearer ${fan.token}` });
    const iterable = await createCaller(requestContext(services(), headers), { signal: abort.signal }).feed.onItem();
    const consuming = (async () => {
      for await (const event of iterable) {
        const data = (isTrackedEnvelope(event) ? event[1] : event) as LiveEvent;
        if (data.type === "add") received.push(data.item);
      }
    })();
    await eventually("the subscription to register", registered(services(), fan.user.id));
    const post = await author.as.posts.create({ body: "live!" });
    const item = await eventually("the post on the live feed", () => received.find((i) => i.id === `shard:${post.id}`));
    expect(item.verb).toBe("SHARD");
    abort.abort();
    await consuming;
  });

  test("streams over HTTP as server-sent events to a typed client, token in the connection params", async () => {
    const [author, fan] = [await signUp(services(), "sse"), await signUp(services(), "sse")];
    await fan.as.follows.follow({ userId: author.user.id });
    server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: createApp(services()).fetch });
    const client = createTRPCClient<AppRouter>({
      links: [
        httpSubscriptionLink({
          url: `http://127.0.0.1:${server.port}/trpc`,
          connectionParams: { authorization: `Bearer ${fan.token}` },
          EventSource, // Bun has no EventSource of its own
        }),
      ],
    });
    const received: string[] = [];
    const errors: unknown[] = [];
    const subscription = client.feed.onItem.subscribe(undefined, {
      onData: (event) => {
        if (event.data.type === "add") received.push(event.data.item.id);
      },
      onError: (err) => errors.push(err),
    });
    try {
      await eventually("the subscription to register", registered(services(), fan.user.id));
      const post = await author.as.posts.create({ body: "over SSE" });
      await eventually("the post over SSE", () => (received.includes(`shard:${post.id}`) ? true : undefined));
      expect(errors).toEqual([]);
    } finally {
      subscription.unsubscribe();
    }
  });

  test("a quiet stream over HTTP outlives Bun's idle timeout: it is pinged, not closed", async () => {
    const fan = await signUp(services(), "quiet");
    // Bun's default idleTimeout (10 s), which closed a stream that had nothing to send before its first ping.
    const quiet = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: createApp(services()).fetch });
    const abort = new AbortController();
    try {
      const res = await fetch(`http://127.0.0.1:${quiet.port}/trpc/feed.onItem?input=%7B%7D`, {
        headers: { authorization: `Bearer ${fan.token}`, accept: "text/event-stream" },
        signal: abort.signal,
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const opened = performance.now();
      const pings: number[] = [];
      // Past Bun's default idle timeout (10 s), to the first ping: a closed stream ends (or throws ECONNRESET) in read().
      while (pings.length === 0 || performance.now() - opened < 10_000) {
        const { done, value } = await reader.read();
        if (done) throw new Error(`the stream was closed after ${((performance.now() - opened) / 1000).toFixed(1)} s (pings at ${pings.join(", ")} ms)`);
        if (new TextDecoder().decode(value).includes("event: ping")) pings.push(Math.round(performance.now() - opened));
      }
      // Never 15 s without a message.
      expect(pings.length).toBeGreaterThan(0);
      expect(pings[0]!).toBeLessThan(15_500);
    } finally {
      abort.abort();
      quiet.stop(true);
    }
  });

  test("over HTTP, a client that goes away frees its place among the user's streams", async () => {
    const fan = await signUp(services(), "gone");
    const http = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: createApp(services()).fetch });
    /** Opens a stream over HTTP; resolves with its first message past `connected`, or after 1.5 s with the stream still open. */
    const open = async () => {
      const abort = new AbortController();
      const res = await fetch(`http://127.0.0.1:${http.port}/trpc/feed.onItem`, { headers: { authorization: `Bearer ${fan.token}` }, signal: abort.signal });
      const reader = res.body!.getReader();
      let text = "";
      const reading = (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return text;
          text += new TextDecoder().decode(value);
          if (text.includes("serialized-error")) return text;
        }
      })().catch(() => text);
      const first = await Promise.race([reading, Bun.sleep(1_500).then(() => "(open)")]);
      return { first, close: () => abort.abort() };
    };
    try {
      const streams = [];
      for (let i = 0; i < services().config.live.maxPerUser; i++) streams.push(await open());
      expect(streams.map((s) => s.first)).toEqual(streams.map(() => "(open)"));
      expect((await open()).first).toContain("TOO_MANY_REQUESTS");
      streams.pop()!.close();
      const again = await eventually("a place freed by the closed connection", async () => {
        const s = await open();
        if (s.first === "(open)") return s;
        s.close();
        return undefined;
      });
      for (const s of [...streams, again]) s.close();
    } finally {
      http.stop(true);
    }
  });

  test("over HTTP, a client that stops reading is sent no more than its socket holds; once it reads, it gets that and an error telling it to reconnect", async () => {
    const fan = await signUp(services(), "stalled");
    // A small queue per stream, so that a stalled reader overflows it soon.
    const live = createLiveFeed({ redis: services().redis, maxPerUser: 5, maxQueue: 20 });
    const http = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: createApp({ ...services(), live }).fetch });
    const socket = connect(http.port!, "127.0.0.1");
    try {
      socket.pause(); // reads nothing until resumed: the kernel's buffers fill, then the server's writes wait
      socket.write(`GET /trpc/feed.onItem HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${fan.token}\r\n\r\n`);
      await eventually("the stream to register", registered(services(), fan.user.id));
      // Far more than the loopback socket's buffers hold (a few MiB): 6,000 removals of 2 KB each,
      // 10 at a time, fewer than the queue holds: only a server that waits for the socket falls behind.
      const sent = 6_000;
      for (let i = 0; i < sent; i += 10) {
        await live.publish([fan.user.id], Array.from({ length: 10 }, (_, j) => ({ type: "remove" as const, id: `${i + j}:${"x".repeat(2_000)}` })));
        await Bun.sleep(1);
      }
      await Bun.sleep(1_000); // the messages reach the subscriber connection
      let text = "";
      const ended = new Promise<void>((resolve) => {
        socket.on("data", (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes("event: serialized-error")) resolve();
        });
      });
      socket.resume();
      await Promise.race([ended, Bun.sleep(20_000)]);
      const received = text.split("\"type\":\"remove\"").length - 1;
      // What the socket held and what the queue kept, not everything published (each event ~2 KB).
      expect(received).toBeGreaterThan(0);
      expect(received).toBeLessThan(sent);
      const error = text.slice(text.indexOf("event: serialized-error"));
      expect(error).toStartWith("event: serialized-error");
      expect(error).toContain("events behind its reader; reconnect");
    } finally {
      socket.destroy();
      http.stop(true);
    }
  });

  test("over HTTP, a client that reads nothing for FEEDLINE_LIVE_STALL_SECONDS is disconnected, and its place is freed", async () => {
    const fan = await signUp(services(), "stuck");
    const config = { ...services().config, live: { ...services().config.live, stallSeconds: 2 } };
    const http = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: createApp({ ...services(), config }).fetch });
    const socket = connect(http.port!, "127.0.0.1");
    try {
      let closed = false;
      socket.on("close", () => (closed = true));
      socket.on("error", () => {}); // a reset is how the server drops it
      socket.pause();
      socket.write(`GET /trpc/feed.onItem HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${fan.token}\r\n\r\n`);
      await eventually("the stream to register", registered(services(), fan.user.id));
      // More than the socket's buffers hold, so that a write waits.
      for (let i = 0; i < 6_000; i += 10) {
        await services().live.publish([fan.user.id], Array.from({ length: 10 }, (_, j) => ({ type: "remove" as const, id: `${i + j}:${"x".repeat(2_000)}` })));
        await Bun.sleep(1);
      }
      // The stream is ended: its place among the user's streams is given back (its registration lapses by itself).
      const places = `feed:live:{${fan.user.id}}:conns`;
      expect(await services().redis.zcard(places)).toBe(1);
      await eventually("the stalled stream to be dropped", async () => ((await services().redis.zcard(places)) === 0 ? true : undefined), 15_000);
      socket.resume();
      await eventually("the connection to close", () => (closed ? true : undefined));
    } finally {
      socket.destroy();
      http.stop(true);
    }
  });

  test("a reconnect with the last event id gets exactly the 10 items written while it was away, oldest first", async () => {
    const [author, fan] = [await signUp(services(), "resume"), await signUp(services(), "resume")];
    await fan.as.follows.follow({ userId: author.user.id });
    const first = await openLive(services(), fan);
    const seen = await author.as.posts.create({ body: "seen live" });
    const last = await eventually("the first post live", () => first.events.find((e) => e.data.type === "add" && e.data.item.id === `shard:${seen.id}`));
    await first.close();

    const missed: string[] = [];
    for (let i = 0; i < 10; i++) missed.push(`shard:${(await author.as.posts.create({ body: `missed ${i}` })).id}`);
    await eventually("the missed posts in the feed", async () => {
      const { items } = await fan.as.feed.home({ limit: 20 });
      return missed.every((id) => items.some((it) => it.id === id)) ? true : undefined;
    }).catch(async (err) => {
      // Where the items are, if not on the page: Cassandra's feed, the cache's state, the follow edge.
      const s = services();
      const [zset, hash] = cacheKeys(fan.user.id);
      const stored = (await s.cassandra.execute("SELECT activity_id FROM home_feed WHERE user_id = ? LIMIT 20", [fan.user.id])).rows.map((r) => r.activity_id);
      const followers = (await s.cassandra.execute("SELECT follower_id FROM followers WHERE user_id = ?", [author.user.id])).rows.map((r) => r.follower_id);
      const cache = await s.redis.hmget(hash, "__state", "__complete", "__build", "__size");
      const state = { stored, followers, cache, zcard: await s.redis.zcard(zset), registered: await s.redis.zscore(s.feedCache.registry.keyOf(fan.user.id), fan.user.id), page: (await fan.as.feed.home({ limit: 20 })).items.map((i) => i.id) };
      throw new Error(`${(err as Error).message}\nmissed ${JSON.stringify(missed)}\n${JSON.stringify(state)}${await sharedWorkerLog()}`);
    });

    const again = await openLive(services(), fan, last.id);
    await eventually("the replay", () => (again.adds().length >= 10 ? true : undefined));
    await Bun.sleep(300); // nothing more may follow
    expect(again.adds()).toEqual(missed);
    await again.close();
  });

  test("a deleted item reaches a subscriber as a removal, and no id arrives twice on one connection", async () => {
    const [author, fan] = [await signUp(services(), "retract"), await signUp(services(), "retract")];
    await fan.as.follows.follow({ userId: author.user.id });
    const before = await author.as.posts.create({ body: "before" });
    await eventually("the first post in the feed", async () => ((await fan.as.feed.home({ limit: 5 })).items.some((i) => i.id === `shard:${before.id}`) ? true : undefined));
    const { items } = await fan.as.feed.home({ limit: 5 });
    // Resume from before the first post while new posts are being written: the replay and the
    // live events overlap, and each id must still come once.
    const position = items.find((i) => i.id === `shard:${before.id}`)!;
    const sub = await openLive(services(), fan, services().cursors.encode(`live:${fan.user.id}`, { createdAt: new Date(Date.parse(position.createdAt) - 1), id: "" }));
    const posts = await Promise.all(Array.from({ length: 5 }, (_, i) => author.as.posts.create({ body: `burst ${i}` })));
    await eventually("every post on the connection", () => (posts.every((p) => sub.adds().includes(`shard:${p.id}`)) ? true : undefined));
    await author.as.posts.delete({ postId: posts[0]!.id });
    await eventually("the removal", () => sub.events.find((e) => e.data.type === "remove" && e.data.id === `shard:${posts[0]!.id}`));
    expect(sub.adds()).toContain(`shard:${before.id}`);
    expect(new Set(sub.adds()).size).toBe(sub.adds().length);
    await sub.close();
  });

  test("a forged or foreign last event id is refused", async () => {
    const fan = await signUp(services(), "forged");
    const other = await signUp(services(), "forged");
    const foreign = services().cursors.encode(`live:${other.user.id}`, { createdAt: new Date(), id: "shard:1" });
    for (const lastEventId of ["garbage", foreign]) {
      // Refused before the stream opens: a plain error response, not an event.
      await expect(callerFor(services(), fan.token).feed.onItem({ lastEventId })).rejects.toMatchObject({ code: "BAD_REQUEST", cause: { code: "INVALID_CURSOR" } });
    }
  });

  test("a subscription without a token is refused", async () => {
    await expect(callerFor(services()).feed.onItem()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });
});
