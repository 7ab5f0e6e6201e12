import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../../src/app";
import { createTokens } from "../../src/auth";
import type { Services } from "../../src/services";
import { rowCounts, signUp } from "../support/api";
import { openServices, stackConfig, uniqueHandle } from "../support/stack";

// Bad inputs over HTTP, each with the error a client gets, and a check after each that the
// database holds no partial write. Documented as a table in docs/api.md.

let services: Services;
let app: ReturnType<typeof createApp>;
let alice: Awaited<ReturnType<typeof signUp>>;
let bob: Awaited<ReturnType<typeof signUp>>;
let alicePost: { id: string };
let aliceComment: { id: string };
let expiredToken: string;

beforeAll(async () => {
  services = await openServices();
  app = createApp(services);
  [alice, bob] = [await signUp(services, "bad"), await signUp(services, "bad")];
  alicePost = await alice.as.posts.create({ body: "target" });
  aliceComment = await alice.as.comments.create({ postId: alicePost.id, body: "target comment" });
  await bob.as.follows.follow({ userId: alice.user.id });
  await bob.as.likes.like({ postId: alicePost.id });
  const config = await stackConfig();
  expiredToken = createTokens({ ...config.auth, now: () => Math.floor(Date.now() / 1000) - config.auth.ttlSeconds - 10 }).mint(alice.user.id);
});
afterAll(() => services.close());

type Who = "alice" | "bob" | "none" | "forged" | "expired" | "garbage";
type Case = [name: string, procedure: string, who: Who, input: unknown, appCode: string, status: number];

const huge = "x".repeat(5001);
const injection = "'); drop table users; --";

const cases = (): Case[] => [
  ["handle with upper case", "users.create", "none", { handle: "Alice" }, "INVALID_INPUT", 400],
  ["handle too short", "users.create", "none", { handle: "ab" }, "INVALID_INPUT", 400],
  ["handle of the wrong type", "users.create", "none", { handle: 12345 }, "INVALID_INPUT", 400],
  ["injection-looking handle", "users.create", "none", { handle: injection }, "INVALID_INPUT", 400],
  ["display name over 80 characters", "users.create", "none", { handle: uniqueHandle("dn"), displayName: "d".repeat(81) }, "INVALID_INPUT", 400],
  ["taken handle", "users.create", "none", { handle: alice.user.handle }, "HANDLE_TAKEN", 409],
  ["missing input", "posts.create", "alice", undefined, "INVALID_INPUT", 400],
  ["post body over 5000 characters", "posts.create", "alice", { body: huge }, "INVALID_INPUT", 400],
  ["blank post body", "posts.create", "alice", { body: "   " }, "INVALID_INPUT", 400],
  ["NUL in a post body", "posts.create", "alice", { body: "a\u0000b" }, "INVALID_INPUT", 400],
  ["post without a token", "posts.create", "none", { body: "hi" }, "UNAUTHENTICATED", 401],
  ["post with a forged token", "posts.create", "forged", { body: "hi" }, "UNAUTHENTICATED", 401],
  ["post with an expired token", "posts.create", "expired", { body: "hi" }, "UNAUTHENTICATED", 401],
  ["post with a garbage Authorization header", "posts.create", "garbage", { body: "hi" }, "UNAUTHENTICATED", 401],
  ["actor smuggled in the input is not accepted", "posts.create", "bob", { body: "hi", authorId: "1" }, "INVALID_INPUT", 400],
  ["non-numeric post id", "posts.delete", "alice", { postId: "abc" }, "INVALID_INPUT", 400],
  ["injection-looking post id", "posts.delete", "alice", { postId: `1 or 1=1` }, "INVALID_INPUT", 400],
  ["numeric post id as a number", "posts.delete", "alice", { postId: 1 }, "INVALID_INPUT", 400],
  ["post id past bigint", "posts.delete", "alice", { postId: "9223372036854775808" }, "INVALID_INPUT", 400],
  ["unknown post id", "posts.delete", "alice", { postId: "9223372036854775807" }, "POST_NOT_FOUND", 404],
  ["deleting another user's post", "posts.delete", "bob", { postId: "$alicePost" }, "FORBIDDEN", 403],
  ["deleting another user's comment", "comments.delete", "bob", { commentId: "$aliceComment" }, "FORBIDDEN", 403],
  ["comment on an unknown post", "comments.create", "bob", { postId: "9223372036854775807", body: "x" }, "POST_NOT_FOUND", 404],
  ["comment over 2000 characters", "comments.create", "bob", { postId: "$alicePost", body: "c".repeat(2001) }, "INVALID_INPUT", 400],
  ["liking an unknown post", "likes.like", "bob", { postId: "9223372036854775807" }, "POST_NOT_FOUND", 404],
  ["liking twice", "likes.like", "bob", { postId: "$alicePost" }, "ALREADY_LIKED", 409],
  ["unliking what was not liked", "likes.unlike", "alice", { postId: "$alicePost" }, "NOT_LIKED", 404],
  ["following yourself", "follows.follow", "alice", { userId: "$alice" }, "CANNOT_FOLLOW_SELF", 400],
  ["following twice", "follows.follow", "bob", { userId: "$alice" }, "ALREADY_FOLLOWING", 409],
  ["following an unknown user", "follows.follow", "bob", { userId: "9223372036854775807" }, "USER_NOT_FOUND", 404],
  ["unfollowing someone not followed", "follows.unfollow", "alice", { userId: "$bob" }, "NOT_FOLLOWING", 404],
  ["a malformed idempotency key", "posts.create", "alice", { body: "hi", idempotencyKey: "short" }, "INVALID_INPUT", 400],
];

function resolveInput(input: unknown): unknown {
  if (input === undefined) return undefined;
  const refs: Record<string, string> = { $alicePost: alicePost.id, $aliceComment: aliceComment.id, $alice: alice.user.id, $bob: bob.user.id };
  return JSON.parse(JSON.stringify(input), (_k, v) => (typeof v === "string" && v in refs ? refs[v] : v));
}

function authHeader(who: Who): Record<string, string> {
  switch (who) {
    case "alice":
      return { authorization: `Bearer ${alice.token}` };
    case "bob":
      return { authorization: `Bearer ${bob.token}` };
    case "forged": {
      const [v, kid, , exp, sig] = alice.token.split(".");
      return { authorization: `Bearer ${[v, kid, bob.user.id, exp, sig].join(".")}` };
    }
    case "expired":
      return { authorization: `Bearer ${expiredToken}` };
    case "garbage":
      return { authorization: "Basic YWxpY2U6c2VjcmV0" };
    case "none":
      return {};
  }
}

describe("bad inputs over HTTP", () => {
  test("each bad input gets its typed error and status, and writes nothing", async () => {
    const seen: string[] = [];
    for (const [name, procedure, who, input, appCode, status] of cases()) {
      const before = await rowCounts(services);
      const body = resolveInput(input);
      const res = await app.request(`/trpc/${procedure}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...authHeader(who) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = (await res.json()) as { error?: { message: string; data: { appCode: string; httpStatus: number; canRetry: boolean } } };
      seen.push(`${name}: ${res.status} ${json.error?.data.appCode}`);
      expect({ name, status: res.status, appCode: json.error?.data.appCode }).toEqual({ name, status, appCode });
      expect(json.error!.message.length).toBeGreaterThan(0);
      expect(json.error!.message).not.toContain("[{"); // readable, not a JSON dump of issues
      expect(json.error!.data.canRetry).toBe(false);
      expect(await rowCounts(services)).toEqual(before);
    }
    expect(seen).toHaveLength(cases().length);
  });

  test("a body that is not JSON is INVALID_INPUT", async () => {
    const res = await app.request("/trpc/posts.create", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${alice.token}` },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { data: { appCode: string } } }).error.data.appCode).toBe("INVALID_INPUT");
  });

  test("a query by GET and a mutation answer with the documented shapes", async () => {
    const ok = await app.request(`/trpc/users.get?input=${encodeURIComponent(JSON.stringify({ userId: alice.user.id }))}`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ result: { data: alice.user } });

    const created = await app.request("/trpc/posts.create", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${bob.token}`, "idempotency-key": `http-${crypto.randomUUID()}` },
      body: JSON.stringify({ body: "over http" }),
    });
    expect(created.status).toBe(200);
    const { result } = (await created.json()) as { result: { data: { authorId: string } } };
    expect(result.data.authorId).toBe(bob.user.id);
  });

  test("a mutation sent as GET is refused without writing", async () => {
    const before = await rowCounts(services);
    const res = await app.request(`/trpc/posts.create?input=${encodeURIComponent(JSON.stringify({ body: "x" }))}`, {
      headers: { authorization: `Bearer ${alice.token}` },
    });
    expect(res.status).toBe(405);
    expect(await rowCounts(services)).toEqual(before);
  });
});
