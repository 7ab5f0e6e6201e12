import { tracked } from "@trpc/server";
import { z } from "zod";
import { openLiveHome } from "../read/live-home";
import { authedProcedure, publicProcedure, router } from "./trpc";
import { id, page } from "./inputs";
import { positionOf } from "../model/feed";
import { paginate } from "./cursor";

/** A signal that aborts with `signal` or at `atMs`, whichever comes first (re-armed past setTimeout's 24.8-day limit). */
export function abortAt(atMs: number, signal?: AbortSignal) {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    const left = atMs - Date.now();
    if (left <= 0) return controller.abort();
    timer = setTimeout(arm, Math.min(left, 2 ** 31 - 1));
  };
  signal?.addEventListener("abort", () => (clearTimeout(timer), controller.abort()), { once: true });
  arm();
  return controller.signal;
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
   * The stream ends when the token expires; a user holds a bounded number of streams.
   */
  onItem: authedProcedure
    .input(z.strictObject({ lastEventId: z.string().max(512).nullish() }).optional())
    .subscription(async ({ ctx, input, signal }) => {
      const feed = `live:${ctx.userId}`;
      const since = input?.lastEventId ? ctx.cursors.decode(feed, input.lastEventId) : undefined;
      const until = abortAt(ctx.tokenExpiresAt * 1000, signal);
      // Opened before the response starts: a refusal (too many streams) is a plain 429.
      return openLiveHome(ctx, ctx.userId, since, until, (at, event) => tracked(ctx.cursors.encode(feed, at), event));
    }),

  /** Anyone's own activities (their profile), newest first. */
  user: publicProcedure.input(z.strictObject({ userId: id, ...page })).query(async ({ ctx, input }) => {
    const feed = `user:${input.userId}`;
    const after = input.cursor ? ctx.cursors.decode(feed, input.cursor) : undefined;
    const items = await ctx.reader.profile(input.userId, input.limit + 1, after);
    return paginate(items, input.limit, (i) => ctx.cursors.encode(feed, positionOf(i)));
  }),
});
