import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureStackSecret, stackSecretFile, withStackSecret } from "../../deploy/stack/secret";

const dir = mkdtempSync(join(tmpdir(), "feedline-secret-"));
const env = { FEEDLINE_STACK_DIR: dir };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the local stack's token secret", () => {
  test("is generated once, readable by its owner only, and long enough for the service", () => {
    expect(withStackSecret(env).FEEDLINE_TOKEN_SECRET).toBeUndefined(); // nothing before `up`
    ensureStackSecret(env);
    const file = stackSecretFile(env);
    const first = readFileSync(file, "utf8").trim();
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    ensureStackSecret(env);
    expect(readFileSync(file, "utf8").trim()).toBe(first);
    expect(withStackSecret(env).FEEDLINE_TOKEN_SECRET).toBe(first);
  });

  test("a secret set in the environment wins", () => {
    expect(withStackSecret({ ...env, FEEDLINE_TOKEN_SECRET: "s".repeat(40) }).FEEDLINE_TOKEN_SECRET).toBe("s".repeat(40));
  });
});
