import { publicProcedure, router } from "./trpc";

export const healthRouter = router({
  /** Each component's state, as /healthz reports it. */
  health: publicProcedure.query(({ ctx }) => ctx.health()),
});
