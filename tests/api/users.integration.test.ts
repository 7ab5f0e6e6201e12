import { describe, expect, test } from "bun:test";
import { callerFor, expectAppError, rowCounts, signUp } from "../support/api";
import { uniqueHandle, useServices } from "../support/stack";

const services = useServices();

describe("users", () => {
  test("create returns the user and a token that acts as them", async () => {
    const handle = uniqueHandle("new");
    const { user, token } = await callerFor(services()).users.create({ handle, displayName: "  New Person  " });
    expect(user).toMatchObject({ handle, displayName: "New Person" });
    expect(user.id).toMatch(/^\d+$/);
    expect(Date.parse(user.createdAt)).not.toBeNaN();
    expect(services().tokens.verify(token)).toMatchObject({ userId: user.id });
  });

  test("get returns a user to anyone, and a missing one is USER_NOT_FOUND", async () => {
    const { user } = await signUp(services());
    expect(await callerFor(services()).users.get({ userId: user.id })).toEqual(user);
    await expectAppError(callerFor(services()).users.get({ userId: "9223372036854775807" }), "USER_NOT_FOUND", "NOT_FOUND");
  });

  test("a taken handle is HANDLE_TAKEN and writes nothing", async () => {
    const { user } = await signUp(services());
    const before = await rowCounts(services());
    await expectAppError(callerFor(services()).users.create({ handle: user.handle }), "HANDLE_TAKEN", "CONFLICT");
    expect(await rowCounts(services())).toEqual(before);
  });

  test("a retried sign-up with the same idempotency key returns the same user, not a second one", async () => {
    const handle = uniqueHandle("idem");
    const key = `signup-${crypto.randomUUID()}`;
    const first = await callerFor(services(), undefined, { "idempotency-key": key }).users.create({ handle });
    const again = await callerFor(services(), undefined, { "idempotency-key": key }).users.create({ handle });
    expect(again.user).toEqual(first.user);
    expect(services().tokens.verify(again.token)).toMatchObject({ userId: first.user.id });
    expect(await services().sql`select 1 from users where handle = ${handle}`).toHaveLength(1);
  });

  test("the same sign-up key for the same handle with another display name is refused", async () => {
    const key = `signup-${crypto.randomUUID()}`;
    const handle = uniqueHandle("k1");
    await callerFor(services()).users.create({ handle, displayName: "One", idempotencyKey: key });
    const attempt = callerFor(services()).users.create({ handle, displayName: "Two", idempotencyKey: key });
    await expectAppError(attempt, "IDEMPOTENCY_KEY_REUSED", "UNPROCESSABLE_CONTENT");
  });
});
