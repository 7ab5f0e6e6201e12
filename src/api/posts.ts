import { z } from "zod";
import { authedProcedure, router } from "./trpc";
import { id, idempotencyKey, idempotencyKeyOf, text } from "./inputs";

export const postsRouter = router({
  create: authedProcedure.input(z.strictObject({ body: text(5000, { lines: true }), idempotencyKey })).mutation(({ ctx, input }) => {
    const key = idempotencyKeyOf(ctx.idempotencyKey, input.idempotencyKey);
    return ctx.writes.createPost(ctx.userId, { body: input.body }, key ? { key } : undefined);
  }),

  /** Deletes one of the caller's posts with its comments and likes. */
  delete: authedProcedure.input(z.strictObject({ postId: id })).mutation(({ ctx, input }) => ctx.writes.deletePost(ctx.userId, input.postId)),
});
