import { parseArgs } from "node:util";
import { createAdminApp, createApp } from "./app";
import { startBackground, startBackgroundThread } from "./background";
import { randomSecret } from "./auth";
import { type Config, ConfigError, loadConfig, tokenSecrets } from "./config";
import { AppError } from "./errors";
import { createServices } from "./services";

const usage = `usage: feedline [command]
  serve [--role api|worker|all]   run the API, the stream workers, or both (default: all)
  token <user>                    print a bearer token for an existing user (id or handle)`;

const roles = ["api", "worker", "all"] as const;
type Role = (typeof roles)[number];

/** Wires config → clients → app (and the stream workers) and serves; stops cleanly on SIGINT/SIGTERM. */
async function serve(config: Config, role: Role) {
  if (role !== "worker") {
    const { secrets, generated } = tokenSecrets(config, randomSecret);
    if (generated) console.warn("warning: FEEDLINE_TOKEN_SECRET is not set; tokens are signed with a random secret and die with this process (npm start sets one)");
    config = { ...config, auth: { ...config.auth, secrets } };
  }
  const services = await createServices(config);
  // A stage that cannot go on (a store rejected a write) ends the process: its supervisor
  // (systemd, Kubernetes, compose) restarts it, and the batch replays from the committed offset.
  const onFatal = () => {
    console.error("[stream] exiting so that the process supervisor restarts this worker");
    process.exit(70);
  };
  // The stream stages, the capture watchdog and key expiry: on this event loop for a worker-only
  // process; in a thread of their own when this process also serves the API, so that stream load
  // does not queue behind (or in front of) requests (docs/architecture.md).
  const thread = role === "all" ? await startBackgroundThread(onFatal) : undefined;
  const background = role === "worker" ? await startBackground(config, services, onFatal) : thread;
  for (const [name, check] of Object.entries(background?.checks ?? {})) services.watch(name, check);
  const metrics = thread
    ? { render: async () => (await services.metrics.render()) + (await thread.metrics(services.metrics.names()).catch(() => "")) }
    : services.metrics;
  const app = createApp(services, { api: role !== "worker" });
  // The app refuses a body past the limit with a typed 413 as it streams in; Bun's own cap is the backstop.
  const server = Bun.serve({ hostname: config.api.host, port: config.api.port, fetch: app.fetch, maxRequestBodySize: config.api.maxBodyBytes + 65_536 });
  const admin = Bun.serve({ hostname: config.admin.host, port: config.admin.port, fetch: createAdminApp({ health: services.health, metrics }).fetch, maxRequestBodySize: 65_536 });
  console.log(`feedline ${role} listening on http://${server.hostname}:${server.port} (${role === "worker" ? "" : "tRPC at /trpc, "}/healthz)`);
  console.log(`  admin on http://${admin.hostname}:${admin.port} (/healthz in detail, /metrics)`);

  const report = await services.health();
  for (const [name, h] of Object.entries(report.components)) {
    console.log(`  ${name.padEnd(10)} ${h.ok ? "ok" : `DOWN: ${h.error}`}`);
  }

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.stop();
    admin.stop();
    await background?.stop();
    await services.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

/** Mints a token for an existing user, for operators and scripts (`npm run token -- alice`). */
async function token(config: Config, who: string | undefined) {
  if (!who) throw new AppError("INVALID_INPUT", "name the user: feedline token <id or handle>");
  if (config.auth.secrets.length === 0) {
    throw new ConfigError("FEEDLINE_TOKEN_SECRET", "is not set: a token signed with any other secret than the API's verifies nowhere");
  }
  const services = await createServices(config);
  try {
    const user = /^\d+$/.test(who) ? await services.writes.getUser(who) : await services.writes.getUserByHandle(who);
    console.log(services.tokens.mint(user.id));
  } finally {
    await services.close();
  }
}

async function main([command = "serve", ...args]: string[]) {
  const config = loadConfig();
  if (command === "serve") {
    const { values } = parseArgs({ args, options: { role: { type: "string", default: "all" } } });
    const role = values.role as Role;
    if (!roles.includes(role)) throw new AppError("INVALID_INPUT", `--role must be one of ${roles.join(", ")} (got ${values.role})`);
    return serve(config, role);
  }
  if (command === "token") return token(config, args[0]);
  console.error(usage);
  process.exit(2);
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err instanceof ConfigError || err instanceof AppError ? `error: ${err.message}` : err);
  process.exit(1);
});
