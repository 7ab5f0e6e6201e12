import { afterAll, beforeAll } from "bun:test";
import { type Config, loadConfig } from "../../src/config";
import { createServices, type Services } from "../../src/services";
import { withStackSecret } from "../../deploy/stack/secret";
import { generousRates } from "../../deploy/stack/service";

/**
 * How tests reach the stack, in one place: a stack already answering at the configured FEEDLINE_*
 * addresses (the local one that `npm test` brings up, `docker compose up -d --wait`, or any other
 * whose addresses are given in the environment); otherwise a clear error saying how to start one.
 */
let ready: Promise<Config> | undefined;

export function stackConfig(): Promise<Config> {
  ready ??= locateStack();
  return ready;
}

async function locateStack() {
  // The stack's token secret, so that tokens agree with the services it runs; budgets out of reach.
  const config = loadConfig({ ...withStackSecret(), ...generousRates() });
  if (await answers(config)) return config;
  throw new Error(
    "the stack is not running at the configured addresses: run `npm test` (which starts it), " +
      "or `npm run stack -- up` (or `docker compose up -d --wait`) before `bun test`, or set the FEEDLINE_* addresses of a running stack",
  );
}

async function answers(config: Config) {
  const services = await createServices(config);
  try {
    return (await services.health()).ok;
  } finally {
    await services.close();
  }
}

/** Clients for one test file, closed by the caller's afterAll; `adjust` changes the stack's config for them. */
export async function openServices(adjust: (config: Config) => Config = (c) => c): Promise<Services> {
  return createServices(adjust(await stackConfig()));
}

/** Opens the clients before the file's tests and closes them after; call the result inside tests. */
export function useServices(adjust?: (config: Config) => Config): () => Services {
  let services: Services | undefined;
  beforeAll(async () => {
    services = await openServices(adjust);
  });
  afterAll(async () => {
    await services?.close();
  });
  return () => {
    if (!services) throw new Error("useServices(): the clients are opened in beforeAll; call this inside a test");
    return services;
  };
}

/**
 * A consumer group or topic name of the test's own, under the run's topic prefix, so that dropping
 * the run's namespace (deploy/stack/namespace.ts) takes it too: `<prefix>-<kind>-<uuid>` for a
 * group, `<prefix>.<kind>-<uuid>` for a topic.
 */
export function scratchName(config: Config, kind: string, what: "group" | "topic") {
  return `${config.kafka.topicPrefix}${what === "group" ? "-" : "."}${kind}-${crypto.randomUUID()}`;
}

/** A handle no other test (or earlier run) uses: tests never depend on each other's rows. */
export function uniqueHandle(prefix = "t") {
  return `${prefix}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`.slice(0, 30);
}

/** Polls until `fn` returns a value that is not undefined, or fails at the deadline with `what`. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
