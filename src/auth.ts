import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Signed bearer tokens: `fl2.<key id>.<userId>.<expiresAt>.<hmac>`, HMAC-SHA256. Stateless:
 * verifying needs no database round trip.
 *
 * - The first secret signs; every secret verifies, found by its key id (derived from the secret,
 *   so two secrets never share one). Rotation: put the new secret first and keep the old one
 *   among the previous secrets for as long as its tokens live (the token lifetime).
 * - A token promising to live longer than the lifetime this service grants (plus a minute for
 *   clocks) is refused whatever its signature: a leaked secret cannot mint decade-long tokens
 *   that outlive its rotation.
 * - `fl1.<userId>.<expiresAt>.<hmac>` tokens (before key ids) verify against every secret, under
 *   the same lifetime rule, until they expire.
 */
export function createTokens(options: { secrets: string[]; ttlSeconds: number; now?: () => number }) {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  if (options.secrets.length === 0) throw new Error("createTokens needs at least one secret");
  const keys = new Map(options.secrets.map((secret) => [keyIdOf(secret), secret]));
  const signingKey = keyIdOf(options.secrets[0]!);
  const sign = (secret: string, payload: string) => createHmac("sha256", secret).update(payload).digest("base64url");
  const signedBy = (secret: string, payload: string, signature: string) => {
    const expected = Buffer.from(sign(secret, payload));
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const maxLifetime = options.ttlSeconds + 60;

  return {
    /** A token acting as `userId` until now + ttl. */
    mint(userId: string) {
      const payload = `fl2.${signingKey}.${userId}.${now() + options.ttlSeconds}`;
      return `${payload}.${sign(keys.get(signingKey)!, payload)}`;
    },
    /** The user a token acts as and when it expires (Unix seconds), or why it does not. */
    verify(token: string): Verified {
      const parts = token.split(".");
      let userId: string, expiresAt: string, valid: boolean;
      if (parts.length === 5 && parts[0] === "fl2") {
        const [, kid, user, exp, signature] = parts as [string, string, string, string, string];
        if (!wellFormed(user, exp)) return { error: "malformed" };
        const secret = keys.get(kid);
        [userId, expiresAt, valid] = [user, exp, secret !== undefined && signedBy(secret, parts.slice(0, 4).join("."), signature)];
      } else if (parts.length === 4 && parts[0] === "fl1") {
        const [, user, exp, signature] = parts as [string, string, string, string];
        if (!wellFormed(user, exp)) return { error: "malformed" };
        [userId, expiresAt, valid] = [user, exp, [...keys.values()].some((secret) => signedBy(secret, parts.slice(0, 3).join("."), signature))];
      } else {
        return { error: "malformed" };
      }
      if (!valid) return { error: "bad-signature" };
      const exp = Number(expiresAt);
      if (exp <= now()) return { error: "expired" };
      if (exp > now() + maxLifetime) return { error: "too-long" };
      return { userId, expiresAt: exp };
    },
  };
}

export type Tokens = ReturnType<typeof createTokens>;
type Verified = { userId: string; expiresAt: number } | { error: "malformed" | "bad-signature" | "expired" | "too-long" };

const wellFormed = (userId: string, expiresAt: string) => /^[1-9]\d{0,18}$/.test(userId) && /^\d{1,12}$/.test(expiresAt);

/** A secret's key id: 8 characters of its hash, which say which secret signed a token without revealing it. */
export function keyIdOf(secret: string) {
  return createHash("sha256").update(`feedline token key ${secret}`).digest("base64url").slice(0, 8);
}

/** A random secret, for a development process with none configured (tokens then die with the process). */
export const randomSecret = () => randomBytes(32).toString("base64url");

/** Reads `Authorization: Bearer <token>`; a present but unusable header is an error, not anonymity. */
export function authenticate(header: string | null | undefined, tokens: Tokens): Auth {
  if (!header) return { error: "missing" };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return { error: "malformed" };
  return tokens.verify(match[1]!);
}

export type Auth = Verified | { error: "missing" };
