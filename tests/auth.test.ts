import { describe, expect, test } from "bun:test";
import { authenticate, createTokens, keyIdOf } from "../src/auth";
import { ConfigError, isLoopback, loadConfig, tokenSecrets } from "../src/config";
import { forgeToken } from "./support/tokens";

const secret = "x".repeat(32);
const older = "o".repeat(32);
let clock = 1_000_000;
const now = () => clock;
const tokens = createTokens({ secrets: [secret], ttlSeconds: 60, now });

describe("bearer tokens", () => {
  test("a minted token verifies as its user, with its expiry, until it expires", () => {
    const token = tokens.mint("42");
    expect(token.split(".")[1]).toBe(keyIdOf(secret));
    expect(tokens.verify(token)).toEqual({ userId: "42", expiresAt: clock + 60 });
    clock += 61;
    expect(tokens.verify(token)).toEqual({ error: "expired" });
  });

  test("a token signed with another secret, or altered, is refused", () => {
    const other = createTokens({ secrets: ["y".repeat(32)], ttlSeconds: 60, now });
    expect(tokens.verify(other.mint("42"))).toEqual({ error: "bad-signature" });
    const [v, kid, , exp, sig] = tokens.mint("42").split(".");
    expect(tokens.verify([v, kid, "43", exp, sig].join("."))).toEqual({ error: "bad-signature" });
    // The key id names a secret; it cannot make a signature by another one pass.
    expect(tokens.verify(forgeToken("y".repeat(32), "42", clock + 30).replace(keyIdOf("y".repeat(32)), keyIdOf(secret)))).toEqual({ error: "bad-signature" });
  });

  test("a token promising a longer life than the service grants is refused, even when correctly signed", () => {
    expect(tokens.verify(forgeToken(secret, "42", clock + 10 * 365 * 86_400))).toEqual({ error: "too-long" });
    expect(tokens.verify(forgeToken(secret, "42", clock + 10 * 365 * 86_400, "fl1"))).toEqual({ error: "too-long" });
    expect(tokens.verify(forgeToken(secret, "42", clock + 60 + 30))).toMatchObject({ userId: "42" }); // within a minute of skew
  });

  test("rotation: the first secret signs, the previous ones still verify their own tokens, by key id", () => {
    const before = createTokens({ secrets: [older], ttlSeconds: 60, now });
    const rotated = createTokens({ secrets: [secret, older], ttlSeconds: 60, now });
    const old = before.mint("7");
    expect(rotated.verify(old)).toMatchObject({ userId: "7" });
    expect(rotated.mint("7").split(".")[1]).toBe(keyIdOf(secret));
    expect(tokens.verify(old)).toEqual({ error: "bad-signature" }); // once the old secret is dropped
  });

  test("tokens from before key ids (fl1) verify against any configured secret until they expire", () => {
    const rotated = createTokens({ secrets: [secret, older], ttlSeconds: 60, now });
    expect(rotated.verify(forgeToken(older, "9", clock + 30, "fl1"))).toEqual({ userId: "9", expiresAt: clock + 30 });
    expect(rotated.verify(forgeToken("z".repeat(32), "9", clock + 30, "fl1"))).toEqual({ error: "bad-signature" });
  });

  test("garbage is malformed", () => {
    for (const t of ["", "abc", "fl1.42.x.sig", "fl3.k.42.123.sig", "fl1.-1.123.sig", "fl1.42.123", "fl2.k.042.123.sig", "fl2.k.42.123"]) {
      expect(tokens.verify(t)).toEqual({ error: "malformed" });
    }
  });

  test("the Authorization header must be a Bearer token", () => {
    const token = tokens.mint("7");
    expect(authenticate(`Bearer ${token}`, tokens)).toMatchObject({ userId: "7" });
    expect(authenticate(`bearer ${token}`, tokens)).toMatchObject({ userId: "7" });
    expect(authenticate(null, tokens)).toEqual({ error: "missing" });
    expect(authenticate(`Basic ${token}`, tokens)).toEqual({ error: "malformed" });
    expect(authenticate(`Bearer ${token} extra`, tokens)).toEqual({ error: "malformed" });
  });
});

describe("the token secret an API runs with", () => {
  const random = () => "r".repeat(32);

  test("a configured secret, then the previous ones", () => {
    const config = loadConfig({ FEEDLINE_TOKEN_SECRET: secret, FEEDLINE_TOKEN_PREVIOUS_SECRETS: `${older}, ${"p".repeat(32)}` });
    expect(tokenSecrets(config, random)).toEqual({ secrets: [secret, older, "p".repeat(32)], generated: false });
  });

  test("none on a loopback address: a random one, said to be generated", () => {
    expect(tokenSecrets(loadConfig({}), random)).toEqual({ secrets: [random()], generated: true });
  });

  test("none on any other address: refusal naming the variable", () => {
    expect(() => tokenSecrets(loadConfig({ FEEDLINE_API_HOST: "0.0.0.0" }), random)).toThrow(ConfigError);
    expect(() => tokenSecrets(loadConfig({ FEEDLINE_API_HOST: "10.0.0.5" }), random)).toThrow(/FEEDLINE_TOKEN_SECRET is not set/);
  });

  test("the development secret earlier versions published, and short secrets, are refused", () => {
    expect(() => loadConfig({ FEEDLINE_TOKEN_SECRET: "feedline-development-secret-do-not-use-in-production" })).toThrow(/published development secret/);
    expect(() => loadConfig({ FEEDLINE_TOKEN_SECRET: "short" })).toThrow(/FEEDLINE_TOKEN_SECRET/);
    expect(() => loadConfig({ FEEDLINE_TOKEN_SECRET: secret, FEEDLINE_TOKEN_PREVIOUS_SECRETS: "short" })).toThrow(/FEEDLINE_TOKEN_PREVIOUS_SECRETS/);
  });

  test("loopback addresses", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "::1"]) expect(isLoopback(host)).toBe(true);
    for (const host of ["0.0.0.0", "::", "10.0.0.5", "example.com", "127.0.0.1.example.com"]) expect(isLoopback(host)).toBe(false);
  });
});
