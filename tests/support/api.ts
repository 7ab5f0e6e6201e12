import { expect } from "bun:test";
import { TRPCError, isTrackedEnvelope } from "@trpc/server";
import { requestContext } from "../../src/app";
import type { ErrorCode } from "../../src/errors";
import { createCaller } from "../../src/api";
import type { Services } from "../../src/services";
import type { Item } from "../../src/model/feed";
import type { LiveEvent } from "../../src/feeds/live";
import { eventually, uniqueHandle } from "./stack";
import { servedDifference, sharedWorkerLog } from "./pipeline";

/** A tRPC caller as a client with `token` (or none) would be, through the same context as HTTP. */
export function callerFor(services: Services, token?: string, headers: Record<string, string> = {}) {
  const h = new Headers(headers);
  if (token) h.set("authorization", `Bearer ${token}`);
  return createCaller(requestContext(services, h));
}

/** Signs a fresh user up and returns them with a caller acting as them. */
export async function signUp(services: Services, prefix = "u") {
  const { user, token } = await callerFor(services).users.create({ handle: uniqueHandle(prefix) });
  return { user, token, as: callerFor(services, token) };
}

export type User = Awaited<ReturnType<typeof signUp>>;

/** Whether the user has an open live stream registered (for `eventually`). */
export const registered = (services: Services, userId: string) => async () =>
  (await services.redis.zscore(services.live.registry.keyOf(userId), userId)) ? true : undefined;

/** A live subscription (feed.onItem) through a caller, collecting `{ id, data }` events until closed. */
export async function openLive(services: Services, user: User, lastEventId?: string) {
  const abort = new AbortController();
  const headers = new Headers({ authorization: `Bearer ${user.token}` });
  const iterable = await createCaller(requestContext(services, headers), { signal: abort.signal }).feed.onItem(lastEventId ? { lastEventId } : undefined);
  const events: { id: string; data: LiveEvent }[] = [];
  const consuming = (async () => {
    for await (const e of iterable) if (isTrackedEnvelope(e)) events.push({ id: e[0], data: e[1] as LiveEvent });
  })();
  await eventually("the subscription to register", registered(services, user.user.id));
  return {
    events,
    adds: () => events.flatMap((e) => (e.data.type === "add" ? [e.data.item.id] : [])),
    async close() {
      abort.abort();
      await consuming;
    },
  };
}

/** The whole home feed through feed.home, `limit: 100`, paged to the end. */
export async function servedHomeItems(u: User) {
  const items: Item[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: Item[]; nextCursor: string | null } = await u.as.feed.home({ limit: 100, cursor });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

/** The ids of the whole home feed, paged to the end. */
export const servedHome = async (u: User) => (await servedHomeItems(u)).map((i) => i.id);

/**
 * Waits until the feed served to `u` equals the contract's newest N computed in SQL, each item
 * rendered as SQL says it should be (actor, object, excerpt); fails with the difference.
 */
export async function expectServedIsOracle(services: Services, u: User, timeoutMs = 45_000) {
  let last = "";
  await eventually(
    "the served feed to equal the oracle",
    async () => {
      const difference = await servedDifference(services, u.user.id, await servedHomeItems(u));
      last = difference ?? "";
      return difference ? undefined : true;
    },
    timeoutMs,
  ).catch(async (err) => {
    throw new Error(`${(err as Error).message}\n${last}${await sharedWorkerLog()}`);
  });
}

/** Expects the promise to fail with this app error code (and, if given, this tRPC code). */
export async function expectAppError(promise: Promise<unknown>, appCode: ErrorCode, trpcCode?: TRPCError["code"]) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCError);
  const trpc = err as TRPCError;
  expect((trpc.cause as { code?: string } | undefined)?.code ?? (trpc.cause?.name === "ZodError" ? "INVALID_INPUT" : trpc.code)).toBe(appCode);
  if (trpcCode) expect(trpc.code).toBe(trpcCode);
  expect(trpc.message.length).toBeGreaterThan(0);
  return trpc;
}

/** Row counts of every table a mutation may write: compared before and after to prove nothing partial was written. */
export async function rowCounts(services: Services) {
  const [row] = await services.sql`
    select (select count(*) from users)::int as users, (select count(*) from follows)::int as follows,
           (select count(*) from posts)::int as posts, (select count(*) from comments)::int as comments,
           (select count(*) from likes)::int as likes,
           -- The newest key, not a count: the worker's expiry job may delete old keys meanwhile (a
           -- count of the last hour also moved as a key aged past the hour), and any new key is newer.
           (select coalesce(max(created_at)::text, '') from idempotency_keys) as idempotency_keys`;
  return row!;
}
