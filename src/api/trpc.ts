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
import type { RateLimits } from "./rate-limits";

/** Everything a procedure may use reaches it through this context; the stores are built once in services.ts. */
export interface Context {
  /** Up or down per component, cached briefly: what anyone may see. */
  publicHealth: () => Promise<PublicHealth>;
  writes: WriteStore;
  reader: FeedReader;
  live: LiveFeed;
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

const t = initTRPC.context<Context>().create({
  // Server-sent events for subscriptions: a ping keeps proxies from closing an idle stream.
  sse: { ping: { enabled: true, intervalMs: 15_000 } },
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
 * Turns a thrown AppError into its tRPC error, and a store outage (any client's connection or
 * timeout error) into 503 UNAVAILABLE with canRetry rather than 500. tRPC v11 returns errors as
 * results: check `ok`, never try/catch `next()`.
 */
const appErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (result.ok) return result;
  const cause = result.error.cause;
  const appError = cause instanceof AppError ? cause : asUnavailable(cause);
  if (appError) throw toTRPCError(appError);
  return result;
});

const authMessages = {
  missing: "sign in: send Authorization: Bearer <token>",
  malformed: "the bearer token is malformed",
  "bad-signature": "the bearer token is not valid",
  expired: "the bearer token has expired; get a new one",
  "too-long": "the bearer token claims a longer life than this service grants; get a new one",
} as const;

/** Procedures that act as a user: the actor comes from the token, never from the input. */
const requireUser = t.middleware(({ ctx, next }) => {
  if ("error" in ctx.auth) throw new AppError("UNAUTHENTICATED", authMessages[ctx.auth.error]);
  // tRPC merges these into the context (spreading it here too cost a copy of every field per call).
  return next({ ctx: { userId: ctx.auth.userId, tokenExpiresAt: ctx.auth.expiresAt } });
});

/** Every call, batched or not, draws on its budget before it runs (rate-limits.ts). */
const rateLimited = t.middleware(async ({ ctx, path, next }) => {
  await ctx.rates.consume(path, { userId: "userId" in ctx.auth ? ctx.auth.userId : undefined, address: ctx.address });
  return next();
});

export const router = t.router;
export const publicProcedure = t.procedure.use(appErrors).use(rateLimited);
export const authedProcedure = publicProcedure.use(requireUser);
export const createCallerFactory = t.createCallerFactory;
