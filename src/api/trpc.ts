import { initTRPC } from "@trpc/server";
import { ZodError } from "zod";
import type { Auth, Tokens } from "../auth";
import type { Cursors } from "./cursor";
import { AppError, type ErrorCode, toTRPCError } from "../errors";
import type { PublicHealth } from "../health";
import type { WriteStore } from "../source/writes";
import { asUnavailable } from "../clients/outage";
import type { FeedReader } from "../read/reader";
import type { LiveFeed } from "../feeds/live";
import type { NotificationReader } from "../read/notifications";
import type { Notifier } from "../fanout/notify";
import type { RateLimits } from "./rate-limits";

/** Everything a procedure may use reaches it through this context; the stores are built once in services.ts. */
export interface Context {
  /** Up or down per component, cached briefly: what anyone may see. */
  publicHealth: () => Promise<PublicHealth>;
  writes: WriteStore;
  reader: FeedReader;
  live: LiveFeed;
  notifications: NotificationReader;
  /** Records a mark in the notification store right after its commit, so the caller's next read shows it. */
  notifier: Pick<Notifier, "mark">;
  cursors: Cursors;
  tokens: Tokens;
  /** Who the caller is, from `Authorization: Bearer <token>`, or why not. */
  auth: Auth;
  /** The `Idempotency-Key` header, when the client sent one. */
  idempotencyKey?: string;
  rates: RateLimits;
  /** The client's address (what anonymous calls are counted by), "unknown" when the transport has none. */
  address: string;
}

/** How often a quiet live stream (server-sent events) gets a ping, which keeps proxies, and Bun's own idle timer, from closing it. */
export const ssePingMs = 15_000;

const t = initTRPC.context<Context>().create({
  sse: { ping: { enabled: true, intervalMs: ssePingMs } },
  /** Error shape clients rely on: `data.appCode` from the fixed list, `data.canRetry`, and readable messages. */
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    let appCode: ErrorCode | "INTERNAL" | undefined;
    let message = shape.message;
    let issues: { path: string; message: string }[] | undefined;
    if (cause instanceof AppError) {
      appCode = cause.code;
    } else if (cause instanceof ZodError) {
      appCode = "INVALID_INPUT";
      issues = cause.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
      message = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ");
    } else if (error.code === "BAD_REQUEST" || error.code === "PARSE_ERROR") {
      appCode = "INVALID_INPUT"; // e.g. a body that is not JSON
    } else if (error.code === "INTERNAL_SERVER_ERROR") {
      appCode = "INTERNAL";
      message = "internal error";
    }
    const { stack: _stack, ...data } = shape.data;
    return {
      ...shape,
      message,
      data: { ...data, appCode, canRetry: cause instanceof AppError ? cause.canRetry : false, issues },
    };
  },
});

/**
 * An AppError as its tRPC error, and a store outage (any client's connection or timeout error) as
 * 503 UNAVAILABLE with canRetry rather than 500; undefined for anything else.
 */
function asTRPCError(err: unknown) {
  const appError = err instanceof AppError ? err : asUnavailable(err);
  return appError && toTRPCError(appError);
}

/** A call's result with its error converted as above. tRPC v11 returns errors as results: check `ok`, never try/catch `next()`. */
function settled<R extends { ok: true } | { ok: false; error: { cause?: unknown } }>(result: R): R {
  const converted = result.ok ? undefined : asTRPCError(result.error.cause);
  if (converted) throw converted;
  return result;
}

/** Draws the call on its budget (rate-limits.ts), batched or not; over budget is a 429. */
async function draw(ctx: Context, path: string) {
  try {
    await ctx.rates.consume(path, { userId: "userId" in ctx.auth ? ctx.auth.userId : undefined, address: ctx.address });
  } catch (err) {
    throw asTRPCError(err) ?? err;
  }
}

const authMessages = {
  missing: "sign in: send Authorization: Bearer <token>",
  malformed: "the bearer token is malformed",
  "bad-signature": "the bearer token is not valid",
  expired: "the bearer token has expired; get a new one",
  "too-long": "the bearer token claims a longer life than this service grants; get a new one",
} as const;

/*
 * Each procedure goes through one middleware, not one per concern: at every level tRPC copies the
 * call's options twice, which was a sixth of a cached page's CPU with three levels.
 */

/** Any caller's call: budget, then errors converted. */
const publicGate = t.middleware(async ({ ctx, path, next }) => {
  await draw(ctx, path);
  return settled(await next());
});

/** A procedure that acts as a user: the actor comes from the token, never from the input. */
const userGate = t.middleware(async ({ ctx, path, next }) => {
  await draw(ctx, path);
  const { auth } = ctx;
  if ("error" in auth) throw toTRPCError(new AppError("UNAUTHENTICATED", authMessages[auth.error]));
  // tRPC merges these into the context (spreading it here too would copy every field per call).
  return settled(await next({ ctx: { userId: auth.userId, tokenExpiresAt: auth.expiresAt } }));
});

export const router = t.router;
export const publicProcedure = t.procedure.use(publicGate);
export const authedProcedure = t.procedure.use(userGate);
export const createCallerFactory = t.createCallerFactory;
