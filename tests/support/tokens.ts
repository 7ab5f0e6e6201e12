import { createHmac } from "node:crypto";
import { keyIdOf } from "../../src/auth";

/** A token as anyone holding `secret` could sign it, with any user and expiry (Unix seconds). */
export function forgeToken(secret: string, userId: string, expiresAt: number, version: "fl1" | "fl2" = "fl2") {
  const payload = version === "fl2" ? `fl2.${keyIdOf(secret)}.${userId}.${expiresAt}` : `fl1.${userId}.${expiresAt}`;
  return `${payload}.${createHmac("sha256", secret).update(payload).digest("base64url")}`;
}
