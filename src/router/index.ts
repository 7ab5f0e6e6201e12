import { createCallerFactory, router } from "../trpc";
import { healthRouter } from "./health";

export const appRouter = router({
  health: healthRouter.health,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
