import { z } from "zod";
import { publicProcedure, router } from "./trpc";
import { handle, id, idempotencyKeyOf, signupKey, text } from "./inputs";

export const usersRouter = router({
  /** Signs up: the new user and a bearer token acting as them. */
  create: publicProcedure
    .input(z.strictObject({ handle, displayName: text(80).optional(), idempotencyKey: signupKey }))
    .mutation(async ({ ctx, input }) => {
      const key = idempotencyKeyOf(ctx.idempotencyKey, input.idempotencyKey, signupKey);
      const user = await ctx.writes.createUser({ handle: input.handle, displayName: input.displayName }, key ? { key } : undefined);
      return { user, token: ctx.tokens.mint(user.id) };
    }),

  get: publicProcedure.input(z.strictObject({ userId: id })).query(({ ctx, input }) => ctx.writes.getUser(input.userId)),
});
