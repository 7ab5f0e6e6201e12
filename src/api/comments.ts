import { z } from "zod";
import { authedProcedure, router } from "./trpc";
import { id, idempotencyKey, idempotencyKeyOf, text } from "./inputs";

export const commentsRouter = router({
  create: authedProcedure.input(z.strictObject({ postId: id, body: text(2000, { lines: true }), idempotencyKey })).mutation(({ ctx, input }) => {
    const key = idempotencyKeyOf(ctx.idempotencyKey, input.idempotencyKey);
    return ctx.writes.createComment(ctx.userId, { postId: input.postId, body: input.body }, key ? { key } : undefined);
  }),

  delete: authedProcedure.input(z.strictObject({ commentId: id })).mutation(({ ctx, input }) => ctx.writes.deleteComment(ctx.userId, input.commentId)),
});
