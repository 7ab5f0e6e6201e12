import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { randomSecret } from "../../src/auth";
import { loadStackSettings } from "./settings";

/**
 * The local stack's token secret: generated once, kept in `.stack/token-secret` (mode 0600), and
 * given as FEEDLINE_TOKEN_SECRET to everything the stack tool runs (the service, `token`, the
 * tests and benchmarks), so tokens one of them mints verify in the others and survive restarts.
 * A FEEDLINE_TOKEN_SECRET already in the environment wins.
 */
export function stackSecretFile(env: Record<string, string | undefined> = process.env) {
  return join(resolve(import.meta.dir, "../..", loadStackSettings(env).dir), "token-secret");
}

/** Creates the secret file unless it exists. */
export function ensureStackSecret(env: Record<string, string | undefined> = process.env) {
  const file = stackSecretFile(env);
  if (existsSync(file)) return;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${randomSecret()}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** `env` with the stack's secret as FEEDLINE_TOKEN_SECRET, when it has none and the file exists. */
export function withStackSecret(env: Record<string, string | undefined> = process.env): Record<string, string | undefined> {
  if (env.FEEDLINE_TOKEN_SECRET) return env;
  const file = stackSecretFile(env);
  return existsSync(file) ? { ...env, FEEDLINE_TOKEN_SECRET: readFileSync(file, "utf8").trim() } : env;
}
