import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { authenticate } from "./auth";
import type { Config } from "./config";
import { errorCodes } from "./errors";
import type { Metrics } from "./metrics";
import { appRouter } from "./api";
import type { Context } from "./api/trpc";

/** What the app is built from: everything in the context but the per-request parts, and the API's limits. */
export type AppDeps = Omit<Context, "auth" | "idempotencyKey"> & { metrics?: Metrics; config: Pick<Config, "api"> };

/**
 * The HTTP surface: /healthz for load balancers, /metrics for Prometheus, and tRPC at /trpc
 * unless this process only runs stream workers. Nothing else.
 */
export function createApp(deps: AppDeps, options: { api?: boolean } = {}) {
  const app = new Hono();
  const limits = deps.config.api;
  app.get("/healthz", async (c) => {
    const report = await deps.health();
    return c.json(report, report.ok ? 200 : 503);
  });
  const { metrics } = deps;
  if (metrics) {
    app.get("/metrics", async (c) => c.text(await metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }));
  }
  if (options.api === false) return app;
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
        createContext: ({ req, info }) =>
          requestContext(deps, req.headers, info.type === "subscription" ? info.connectionParams?.authorization : undefined),
        onError: ({ error, path }) => {
          if (error.code === "INTERNAL_SERVER_ERROR") console.error(`[trpc] ${path ?? "?"} failed:`, error.cause ?? error);
        },
      }),
  );
  return app;
}

/** The context of one request: the caller from its bearer token, its idempotency key. */
export function requestContext(deps: AppDeps, headers: Headers, authorization?: string): Context {
  return {
    ...deps,
    auth: authenticate(headers.get("authorization") ?? authorization, deps.tokens),
    idempotencyKey: headers.get("idempotency-key") ?? undefined,
  };
}

/** An error answered before tRPC runs, in the shape tRPC gives its own (docs/api.md#errors). */
function errorBody(appCode: keyof typeof errorCodes, message: string, httpStatus: number) {
  return { error: { message, code: -32600, data: { code: errorCodes[appCode].trpc, httpStatus, appCode, canRetry: errorCodes[appCode].canRetry } } };
}
