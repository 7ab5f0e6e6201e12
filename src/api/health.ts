import { publicProcedure, router } from "./trpc";

export const healthRouter = router({
  /** Each component up or down, as the public /healthz reports it (checked at most every 2 s). */
  health: publicProcedure.query(({ ctx }) => ctx.publicHealth()),
});
