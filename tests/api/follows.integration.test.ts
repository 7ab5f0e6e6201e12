import { describe, expect, test } from "bun:test";
import { callerFor, expectAppError, rowCounts, signUp } from "../support/api";
import { useServices } from "../support/stack";

const services = useServices();

describe("follows", () => {
  test("follow returns the edge made as the token's user; unfollow removes it", async () => {
    const [alice, bob] = [await signUp(services()), await signUp(services())];
    const edge = await alice.as.follows.follow({ userId: bob.user.id });
    expect(edge).toMatchObject({ followerId: alice.user.id, followeeId: bob.user.id });
    expect(await alice.as.follows.unfollow({ userId: bob.user.id })).toEqual({ ok: true });
    expect(await services().sql`select 1 from follows where follower_id = ${alice.user.id}`).toHaveLength(0);
  });

  test("a double follow, a self follow and following a missing user are typed errors that write nothing", async () => {
    const [alice, bob] = [await signUp(services()), await signUp(services())];
    await alice.as.follows.follow({ userId: bob.user.id });
    const before = await rowCounts(services());
    await expectAppError(alice.as.follows.follow({ userId: bob.user.id }), "ALREADY_FOLLOWING", "CONFLICT");
    await expectAppError(alice.as.follows.follow({ userId: alice.user.id }), "CANNOT_FOLLOW_SELF", "BAD_REQUEST");
    await expectAppError(alice.as.follows.follow({ userId: "9223372036854775806" }), "USER_NOT_FOUND", "NOT_FOUND");
    expect(await rowCounts(services())).toEqual(before);
  });

  test("unfollowing someone you do not follow is NOT_FOLLOWING", async () => {
    const [alice, bob] = [await signUp(services()), await signUp(services())];
    await expectAppError(alice.as.follows.unfollow({ userId: bob.user.id }), "NOT_FOLLOWING", "NOT_FOUND");
  });

  test("a retried follow with the same idempotency key returns the first edge", async () => {
    const [alice, bob] = [await signUp(services()), await signUp(services())];
    const key = `follow-${crypto.randomUUID()}`;
    const first = await alice.as.follows.follow({ userId: bob.user.id, idempotencyKey: key });
    const again = await alice.as.follows.follow({ userId: bob.user.id, idempotencyKey: key });
    expect(again).toEqual(first);
  });

  test("without a token nothing is followed", async () => {
    const bob = await signUp(services());
    await expectAppError(callerFor(services()).follows.follow({ userId: bob.user.id }), "UNAUTHENTICATED", "UNAUTHORIZED");
  });
});
