import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Signed bearer tokens: `fl1.<userId>.<expiresAt>.<hmac>`, HMAC-SHA256 with the configured
 * secret. Stateless: verifying needs no database round trip.
 */
export function createTokens(options: { secret: string; ttlSeconds: number; now?: () => number }) {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const sign = (payload: string) => createHmac("sha256", options.secret).update(payload).digest("base64url");

  return {
    /** A token acting as `userId` until now + ttl. */
    mint(userId: string) {
      const payload = `fl1.${userId}.${now() + options.ttlSeconds}`;
      return `${payload}.${sign(payload)}`;
    },
    /** The user a token acts as, or why it does not. */
    verify(token: string): { userId: string } | { error: "malformed" | "bad-signature" | "expired" } {
      const parts = token.split(".");
      if (parts.length !== 4 || parts[0] !== "fl1" || !/^\d{1,19}$/.test(parts[1]!) || !/^\d{1,12}$/.test(parts[2]!)) {
        return { error: "malformed" };
      }
      const expected = Buffer.from(sign(parts.slice(0, 3).join(".")));
      const given = Buffer.from(parts[3]!);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { error: "bad-signature" };
      if (Number(parts[2]) <= now()) return { error: "expired" };
      return { userId: parts[1]! };
    },
  };
}

export type Tokens = ReturnType<typeof createTokens>;

/** Reads `Authorization: Bearer <token>`; a present but unusable header is an error, not anonymity. */
export function authenticate(header: string | null | undefined, tokens: Tokens): Auth {
  if (!header) return { error: "missing" };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return { error: "malformed" };
  return tokens.verify(match[1]!);
}

export type Auth = { userId: string } | { error: "missing" | "malformed" | "bad-signature" | "expired" };
