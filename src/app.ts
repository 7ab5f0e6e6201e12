import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { Hono } from "hono";
import { appRouter } from "./router";
import type { Context } from "./trpc";

/** The HTTP surface: tRPC at /trpc and a plain /healthz for load balancers. Nothing else. */
export function createApp(context: Context) {
  const app = new Hono();
  app.all("/trpc/*", (c) =>
    fetchRequestHandler({
      endpoint: "/trpc",
      req: c.req.raw,
      router: appRouter,
      createContext: () => context,
    }),
  );
  app.get("/healthz", async (c) => {
    const report = await context.health();
    return c.json(report, report.ok ? 200 : 503);
  });
  return app;
}
