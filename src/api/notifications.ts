import { z } from "zod";
import { AppError } from "../errors";
import { type Context, authedProcedure, router } from "./trpc";
import { page } from "./inputs";
import { paginate } from "./cursor";
import { abortAt } from "./feed";

/** A group id as `notifications.list` gives it: `<verb>:<object id>:<window>`. */
const groupId = z.string().regex(/^(follow|like|comment|mention):[1-9]\d{0,18}:\d{1,12}$/, "is not a notification id");

export const notificationsRouter = router({
  /** The caller's notification groups, newest action first, and how many are unseen. */
  list: authedProcedure.input(z.strictObject(page)).query(async ({ ctx, input }) => {
    const feed = `notifications:${ctx.userId}`;
    const after = input.cursor ? ctx.cursors.decode(feed, input.cursor) : undefined;
    const { items, unseen } = await ctx.notifications.list(ctx.userId, input.limit + 1, after);
    return { ...paginate(items, input.limit, (g) => ctx.cursors.encode(feed, { createdAt: new Date(g.updatedAt), id: g.id })), unseen };
  }),

  /** Marks every group seen, as of the newest action the caller's groups hold now. */
  markSeen: authedProcedure.input(z.strictObject({})).mutation(async ({ ctx }) => {
    const newest = await ctx.notifications.newest(ctx.userId);
    if (newest) await mark(ctx, [{ groupId: "", seenAt: newest }]);
    return { unseen: await ctx.notifications.unseen(ctx.userId) };
  }),

  /** Marks these groups read (all of them when `ids` is absent), as of each one's newest action. Unknown ids: NOTIFICATION_NOT_FOUND, nothing marked. */
  markRead: authedProcedure.input(z.strictObject({ ids: z.array(groupId).min(1).max(100).optional() })).mutation(async ({ ctx, input }) => {
    if (!input.ids) {
      const newest = await ctx.notifications.newest(ctx.userId);
      if (newest) await mark(ctx, [{ groupId: "", readAt: newest }]);
      return { ok: true as const };
    }
    const { found, missing } = await ctx.notifications.find(ctx.userId, [...new Set(input.ids)]);
    if (missing.length > 0) throw new AppError("NOTIFICATION_NOT_FOUND", `you have no notification ${missing[0]}`);
    await mark(ctx, found.map((g) => ({ groupId: g.id, readAt: g.updatedAt })));
    return { ok: true as const };
  }),

  /**
   * The caller's notifications, live (server-sent events): `{ unseen }` at once, then
   * `{ unseen, item? }` on every change. A reconnect starts again with the current count.
   */
  onChange: authedProcedure.subscription(async ({ ctx, signal }) => ctx.notifications.open(ctx.userId, abortAt(ctx.tokenExpiresAt * 1000, signal))),
});

/** Records marks in PostgreSQL (the source of truth; the stream copies them), then at once in the store, so the next read shows them. */
async function mark(ctx: Context & { userId: string }, marks: { groupId: string; seenAt?: Date; readAt?: Date }[]) {
  await ctx.notifier.mark(ctx.userId, await ctx.writes.markNotifications(ctx.userId, marks));
}
