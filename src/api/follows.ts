import { z } from "zod";
import { authedProcedure, router } from "./trpc";
import { id, idempotencyKey, idempotencyKeyOf } from "./inputs";

export const followsRouter = router({
  follow: authedProcedure.input(z.strictObject({ userId: id, idempotencyKey })).mutation(({ ctx, input }) => {
    const key = idempotencyKeyOf(ctx.idempotencyKey, input.idempotencyKey);
    return ctx.writes.follow(ctx.userId, input.userId, key ? { key } : undefined);
  }),

  unfollow: authedProcedure.input(z.strictObject({ userId: id })).mutation(({ ctx, input }) => ctx.writes.unfollow(ctx.userId, input.userId)),
});
