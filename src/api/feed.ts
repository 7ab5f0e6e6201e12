import { tracked } from "@trpc/server";
import { z } from "zod";
import { liveHome } from "../read/live-home";
import { authedProcedure, publicProcedure, router } from "./trpc";
import { id } from "./inputs";
import { type WireItem, positionOf } from "../model/feed";

const page = { limit: z.number().int().min(1).max(100).default(20), cursor: z.string().max(512).nullish() };

/** limit + 1 items in, a page and the cursor after its last item out (null on the last page). */
function paginate(items: WireItem[], limit: number, cursorFor: (item: WireItem) => string) {
  const shown = items.slice(0, limit);
  const last = shown.at(-1);
  return { items: shown, nextCursor: items.length > limit && last ? cursorFor(last) : null };
}


export const feedRouter = router({
  /** The caller's home feed, newest first: from Redis, rebuilt from Cassandra when missing. */
  home: authedProcedure.input(z.strictObject(page)).query(async ({ ctx, input }) => {
    const feed = `home:${ctx.userId}`;
    const after = input.cursor ? ctx.cursors.decode(feed, input.cursor) : undefined;
    const items = await ctx.reader.home(ctx.userId, input.limit + 1, after);
    return paginate(items, input.limit, (i) => ctx.cursors.encode(feed, positionOf(i)));
  }),

  /**
   * The caller's home feed, live (server-sent events): `{ type: "add", item }` with the item's
   * feed position as the event id, and `{ type: "remove", id }`. A reconnect sends the last id
   * back (`lastEventId`, which tRPC's client does by itself) and first gets the items after it.
   */
  onItem: authedProcedure
    .input(z.strictObject({ lastEventId: z.string().max(512).nullish() }).optional())
    .subscription(async function* ({ ctx, input, signal }) {
      const feed = `live:${ctx.userId}`;
      const since = input?.lastEventId ? ctx.cursors.decode(feed, input.lastEventId) : undefined;
      for await (const { at, event } of liveHome(ctx, ctx.userId, since, signal)) {
        yield tracked(ctx.cursors.encode(feed, at), event);
      }
    }),

  /** Anyone's own activities (their profile), newest first. */
  user: publicProcedure.input(z.strictObject({ userId: id, ...page })).query(async ({ ctx, input }) => {
    const feed = `user:${input.userId}`;
    const after = input.cursor ? ctx.cursors.decode(feed, input.cursor) : undefined;
    const items = await ctx.reader.profile(input.userId, input.limit + 1, after);
    return paginate(items, input.limit, (i) => ctx.cursors.encode(feed, positionOf(i)));
  }),
});
