import { z } from "zod";
import { authedProcedure, router } from "./trpc";
import { id, idempotencyKey, text } from "./inputs";

export const commentsRouter = router({
  create: authedProcedure.input(z.strictObject({ postId: id, body: text(2000), idempotencyKey })).mutation(({ ctx, input }) => {
    const key = input.idempotencyKey ?? ctx.idempotencyKey;
    return ctx.writes.createComment(ctx.userId, { postId: input.postId, body: input.body }, key ? { key } : undefined);
  }),

  delete: authedProcedure.input(z.strictObject({ commentId: id })).mutation(({ ctx, input }) => ctx.writes.deleteComment(ctx.userId, input.commentId)),
});
