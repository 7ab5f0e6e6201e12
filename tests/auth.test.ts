import { describe, expect, test } from "bun:test";
import { authenticate, createTokens } from "../src/auth";

const secret = "x".repeat(32);
let clock = 1_000_000;
const tokens = createTokens({ secret, ttlSeconds: 60, now: () => clock });

describe("bearer tokens", () => {
  test("a minted token verifies as its user until it expires", () => {
    const token = tokens.mint("42");
    expect(tokens.verify(token)).toEqual({ userId: "42" });
    clock += 61;
    expect(tokens.verify(token)).toEqual({ error: "expired" });
  });

  test("a token signed with another secret, or altered, is refused", () => {
    const other = createTokens({ secret: "y".repeat(32), ttlSeconds: 60, now: () => clock });
    expect(tokens.verify(other.mint("42"))).toEqual({ error: "bad-signature" });
    const [v, , exp, sig] = tokens.mint("42").split(".");
    expect(tokens.verify([v, "43", exp, sig].join("."))).toEqual({ error: "bad-signature" });
  });

  test("garbage is malformed", () => {
    for (const t of ["", "abc", "fl1.42.x.sig", "fl2.42.123.sig", "fl1.-1.123.sig", "fl1.42.123"]) {
      expect(tokens.verify(t)).toEqual({ error: "malformed" });
    }
  });

  test("the Authorization header must be a Bearer token", () => {
    const token = tokens.mint("7");
    expect(authenticate(`Bearer ${token}`, tokens)).toEqual({ userId: "7" });
    expect(authenticate(`bearer ${token}`, tokens)).toEqual({ userId: "7" });
    expect(authenticate(null, tokens)).toEqual({ error: "missing" });
    expect(authenticate(`Basic ${token}`, tokens)).toEqual({ error: "malformed" });
    expect(authenticate(`Bearer ${token} extra`, tokens)).toEqual({ error: "malformed" });
  });
});
