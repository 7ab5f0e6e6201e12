import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { Hono } from "hono";
import { authenticate } from "./auth";
import type { Metrics } from "./metrics";
import { appRouter } from "./api";
import type { Context } from "./api/trpc";

/** What the app is built from: everything in the context but the per-request parts. */
export type AppDeps = Omit<Context, "auth" | "idempotencyKey"> & { metrics?: Metrics };

/**
 * The HTTP surface: /healthz for load balancers, /metrics for Prometheus, and tRPC at /trpc
 * unless this process only runs stream workers. Nothing else.
 */
export function createApp(deps: AppDeps, options: { api?: boolean } = {}) {
  const app = new Hono();
  app.get("/healthz", async (c) => {
    const report = await deps.health();
    return c.json(report, report.ok ? 200 : 503);
  });
  const { metrics } = deps;
  if (metrics) {
    app.get("/metrics", async (c) => c.text(await metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }));
  }
  if (options.api === false) return app;
  app.all("/trpc/*", (c) =>
    fetchRequestHandler({
      endpoint: "/trpc",
      req: c.req.raw,
      router: appRouter,
      // EventSource cannot send headers: a subscription may pass its token as a connection parameter.
      createContext: ({ req, info }) => requestContext(deps, req.headers, info.connectionParams?.authorization),
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
