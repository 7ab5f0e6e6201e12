import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import type { AnyTRPCProcedure, TRPCError } from "@trpc/server";
import { type Context as HonoContext, Hono } from "hono";
import { getConnInfo } from "hono/bun";
import type { Server } from "bun";
import { bodyLimit } from "hono/body-limit";
import { authenticate } from "./auth";
import type { Config } from "./config";
import { AppError, errorCodes } from "./errors";
import type { HealthReport } from "./health";
import type { Metrics } from "./metrics";
import { appRouter } from "./api";
import { type Context, ssePingMs } from "./api/trpc";
import { serveSubscription } from "./api/sse";

/** What the app is built from: everything in the context but the per-request parts, and the API's limits. */
export type AppDeps = Omit<Context, "auth" | "idempotencyKey" | "address"> & { config: Pick<Config, "api" | "trustedProxies" | "live"> };

/**
 * The public HTTP surface: /healthz for load balancers (up or down per component, cached 2 s) and
 * tRPC at /trpc unless this process only runs stream workers. The detailed health and /metrics
 * are on the admin port (createAdminApp).
 */
export function createApp(deps: AppDeps, options: { api?: boolean } = {}) {
  const app = new Hono();
  const limits = deps.config.api;
  app.get("/healthz", async (c) => {
    const report = await deps.publicHealth();
    return c.json(report, report.ok ? 200 : 503);
  });
  if (options.api === false) return app;
  const context = (c: HonoContext, authorization: string | undefined) =>
    requestContext(deps, c.req.raw.headers, { authorization, address: clientAddress(c, deps.config.trustedProxies) });
  const onError = ({ error, path }: { error: TRPCError; path?: string }) => {
    if (error.code === "INTERNAL_SERVER_ERROR") console.error(`[trpc] ${path ?? "?"} failed:`, error.cause ?? error);
  };
  // Subscriptions (GET, server-sent events) are framed by src/api/sse.ts: tRPC's own framing cost
  // about four times the CPU per event (npm run bench:sse). Everything else about them is tRPC's.
  for (const [path, procedure] of Object.entries(appRouter._def.procedures)) {
    if ((procedure as AnyTRPCProcedure)._def.type !== "subscription") continue;
    app.get(
      `/trpc/${path}`,
      serveSubscription(appRouter, path, {
        createContext: (c, connectionParams) => (holdOpen(c), context(c, connectionParams?.authorization)),
        onError,
        stallMs: deps.config.live.stallSeconds * 1000,
      }),
    );
  }
  app.all(
    "/trpc/*",
    // Counted as the body streams in, whatever Content-Length says: a huge body is refused before it is read whole.
    bodyLimit({
      maxSize: limits.maxBodyBytes,
      onError: (c) => c.json(errorBody("PAYLOAD_TOO_LARGE", `the request body is larger than ${limits.maxBodyBytes} bytes`, 413), 413),
    }),
    (c) =>
      fetchRequestHandler({
        endpoint: "/trpc",
        req: c.req.raw,
        router: appRouter,
        // A larger batch is a 400; each call of a batch counts on its own (and is not atomic with the others).
        maxBatchSize: limits.maxBatch,
        // EventSource cannot send headers: a subscription, and only a subscription, may pass its
        // token as a connection parameter (anything in a URL ends up in access logs).
        createContext: ({ info }) => {
          if (info.type === "subscription") holdOpen(c);
          return context(c, info.type === "subscription" ? info.connectionParams?.authorization : undefined);
        },
        // Over budget: when to come back.
        responseMeta: ({ errors }) => {
          const wait = errors.map((e) => (e.cause instanceof AppError ? e.cause.retryAfterSeconds : undefined)).find((s) => s !== undefined);
          return wait === undefined ? {} : { headers: { "retry-after": String(wait) } };
        },
        onError,
      }),
  );
  return app;
}

/**
 * The admin surface, for operators and Prometheus on a private address (FEEDLINE_ADMIN_HOST/PORT):
 * /healthz with each component's timing and error, checked live, and /metrics.
 */
export function createAdminApp(deps: { health: () => Promise<HealthReport>; metrics: Pick<Metrics, "render"> }) {
  const app = new Hono();
  app.get("/healthz", async (c) => {
    const report = await deps.health();
    return c.json(report, report.ok ? 200 : 503);
  });
  app.get("/metrics", async (c) => c.text(await deps.metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }));
  return app;
}

/**
 * The context of one request: the stores and helpers procedures use, the caller from its bearer
 * token, its idempotency key, its address. Only the context's own fields, not everything `deps`
 * holds: tRPC copies the context, key by key, whenever a middleware adds to it.
 */
export function requestContext(deps: AppDeps, headers: Headers, from: { authorization?: string; address?: string } = {}): Context {
  return {
    publicHealth: deps.publicHealth,
    writes: deps.writes,
    reader: deps.reader,
    live: deps.live,
    notifications: deps.notifications,
    notifier: deps.notifier,
    cursors: deps.cursors,
    tokens: deps.tokens,
    rates: deps.rates,
    auth: authenticate(headers.get("authorization") ?? from.authorization, deps.tokens),
    idempotencyKey: headers.get("idempotency-key") ?? undefined,
    address: from.address ?? "unknown",
  };
}

/**
 * The client's address: the socket's peer, or, behind `trustedProxies` reverse proxies, the entry
 * of X-Forwarded-For that the outermost trusted proxy added (earlier entries are the client's word).
 */
export function clientAddress(c: HonoContext, trustedProxies: number) {
  if (trustedProxies > 0) {
    const hops = (c.req.header("x-forwarded-for") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    const entry = hops.at(-trustedProxies);
    if (entry) return entry;
  }
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown"; // not served by Bun.serve (app.request in tests)
  }
}

/**
 * Bun closes a connection that has sent and received nothing for its `idleTimeout` (10 s by
 * default), a streaming response included. A live stream is quiet between pings, so it gets twice
 * the ping interval; every other request keeps the server's timeout.
 */
function holdOpen(c: HonoContext) {
  const server = c.env as Partial<Server<unknown>> | undefined; // Bun passes its server as the env; app.request in tests passes none
  server?.timeout?.(c.req.raw, Math.ceil((2 * ssePingMs) / 1000));
}

/** An error answered before tRPC runs, in the shape tRPC gives its own (docs/api.md#errors). */
function errorBody(appCode: keyof typeof errorCodes, message: string, httpStatus: number) {
  return { error: { message, code: -32600, data: { code: errorCodes[appCode].trpc, httpStatus, appCode, canRetry: errorCodes[appCode].canRetry } } };
}
