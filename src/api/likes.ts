import { z } from "zod";
import { authedProcedure, router } from "./trpc";
import { id, idempotencyKey, idempotencyKeyOf } from "./inputs";

export const likesRouter = router({
  like: authedProcedure.input(z.strictObject({ postId: id, idempotencyKey })).mutation(({ ctx, input }) => {
    const key = idempotencyKeyOf(ctx.idempotencyKey, input.idempotencyKey);
    return ctx.writes.like(ctx.userId, input.postId, key ? { key } : undefined);
  }),

  unlike: authedProcedure.input(z.strictObject({ postId: id })).mutation(({ ctx, input }) => ctx.writes.unlike(ctx.userId, input.postId)),
});
