import { initTRPC } from "@trpc/server";
import type { HealthReport } from "./health";

/** Everything a procedure may use reaches it through this context, built once in main.ts. */
export interface Context {
  health: () => Promise<HealthReport>;
}

const t = initTRPC.context<Context>().create();

export const router = t.router;
export const publicProcedure = t.procedure;
export const createCallerFactory = t.createCallerFactory;
