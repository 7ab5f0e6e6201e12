import { createHmac, timingSafeEqual } from "node:crypto";
import { AppError } from "../errors";
import { type FeedKey } from "../model/feed";

/**
 * Opaque, signed page cursors: the position after the last item of a page (event time and
 * activity id), bound to the feed it came from. A client cannot forge a position, replay a
 * cursor on someone else's feed, or crash the server with garbage: each is INVALID_CURSOR.
 */
export function createCursors(secret: string) {
  const key = createHmac("sha256", secret).update("feedline cursors").digest();
  const sign = (payload: string) => createHmac("sha256", key).update(payload).digest("base64url").slice(0, 22);

  return {
    encode(feed: string, at: FeedKey) {
      const payload = Buffer.from(JSON.stringify([feed, at.createdAt.getTime(), at.id])).toString("base64url");
      return `${payload}.${sign(payload)}`;
    },
    /** The position a cursor points after, if it is well-formed, untampered and for `feed`. */
    decode(feed: string, cursor: string): FeedKey {
      const [payload, signature, extra] = cursor.split(".");
      if (!payload || !signature || extra !== undefined) throw invalid("is malformed");
      const expected = Buffer.from(sign(payload));
      const given = Buffer.from(signature);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid("was altered or not issued by this service");
      let parts: unknown;
      try {
        parts = JSON.parse(Buffer.from(payload, "base64url").toString());
      } catch {
        throw invalid("is malformed");
      }
      if (!Array.isArray(parts) || parts.length !== 3 || typeof parts[0] !== "string" || !Number.isSafeInteger(parts[1]) || typeof parts[2] !== "string") {
        throw invalid("is malformed");
      }
      if (parts[0] !== feed) throw invalid("belongs to another feed");
      return { createdAt: new Date(parts[1] as number), id: parts[2] };
    },
  };
}

export type Cursors = ReturnType<typeof createCursors>;

/** limit + 1 items in, a page and the cursor after its last item out (null on the last page). */
export function paginate<T>(items: T[], limit: number, cursorFor: (item: T) => string) {
  const shown = items.slice(0, limit);
  const last = shown.at(-1);
  return { items: shown, nextCursor: items.length > limit && last !== undefined ? cursorFor(last) : null };
}

const invalid = (why: string) => new AppError("INVALID_CURSOR", `the cursor ${why}; start again without a cursor`);
