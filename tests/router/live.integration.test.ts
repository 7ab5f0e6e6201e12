import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTRPCClient, httpSubscriptionLink } from "@trpc/client";
import { EventSource } from "eventsource";
import { isTrackedEnvelope } from "@trpc/server";
import { createApp, requestContext } from "../../src/app";
import { type AppRouter, createCaller } from "../../src/router";
import { callerFor, signUp } from "../support/api";
import { sharedWorker } from "../support/pipeline";
import { eventually, useServices } from "../support/stack";

// feed.onItem: a live timeline. Items written by the workers after the subscription opened arrive
// on it, through a tRPC caller and over HTTP as server-sent events.

const services = useServices();
let server: ReturnType<typeof Bun.serve> | undefined;
beforeAll(async () => {
  await sharedWorker();
});
afterAll(() => server?.stop(true));

const registered = (userId: string) => async () => ((await services().redis.zscore("feed:live", userId)) ? true : undefined);

describe("feed.onItem", () => {
  test("delivers an item of the caller's home feed written after the subscription opened", async () => {
    const [author, fan] = [await signUp(services(), "live"), await signUp(services(), "live")];
    await fan.as.follows.follow({ userId: author.user.id });
    const abort = new AbortController();
    const received: { id: string; verb: string }[] = [];
    const headers = new Headers({ authorization: `Bearer ${fan.token}` });
    const iterable = await createCaller(requestContext(services(), headers), { signal: abort.signal }).feed.onItem();
    const consuming = (async () => {
      for await (const event of iterable) received.push(isTrackedEnvelope(event) ? (event[1] as never) : (event as never));
    })();
    await eventually("the subscription to register", registered(fan.user.id));
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
      onData: (event) => received.push(event.data.id),
      onError: (err) => errors.push(err),
    });
    try {
      await eventually("the subscription to register", registered(fan.user.id));
      const post = await author.as.posts.create({ body: "over SSE" });
      await eventually("the post over SSE", () => (received.includes(`shard:${post.id}`) ? true : undefined));
      expect(errors).toEqual([]);
    } finally {
      subscription.unsubscribe();
    }
  });

  test("a subscription without a token is refused", async () => {
    await expect(callerFor(services()).feed.onItem()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });
});
