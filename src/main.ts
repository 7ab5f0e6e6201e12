import { createApp } from "./app";
import { type Config, ConfigError, devTokenSecret, loadConfig } from "./config";
import { AppError } from "./errors";
import { createServices } from "./services";

const usage = `usage: feedline [command]
  serve            run the API (default)
  token <user>     print a bearer token for an existing user (id or handle)`;

/** Wires config → clients → app and serves it; stops cleanly on SIGINT/SIGTERM. */
async function serve(config: Config) {
  if (config.auth.secret === devTokenSecret) {
    console.warn("warning: FEEDLINE_TOKEN_SECRET is not set; tokens are signed with the public development secret");
  }
  const services = await createServices(config);
  const app = createApp(services);
  const server = Bun.serve({ hostname: config.api.host, port: config.api.port, fetch: app.fetch });
  console.log(`feedline api listening on http://${server.hostname}:${server.port} (tRPC at /trpc, health at /healthz)`);

  const report = await services.health();
  for (const [name, h] of Object.entries(report.components)) {
    console.log(`  ${name.padEnd(10)} ${h.ok ? "ok" : `DOWN: ${h.error}`}`);
  }

  const stop = async () => {
    server.stop();
    await services.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

/** Mints a token for an existing user, for operators and scripts (`npm run token -- alice`). */
async function token(config: Config, who: string | undefined) {
  if (!who) throw new AppError("INVALID_INPUT", "name the user: feedline token <id or handle>");
  const services = await createServices(config);
  try {
    const user = /^\d+$/.test(who) ? await services.activities.getUser(who) : await services.activities.getUserByHandle(who);
    console.log(services.tokens.mint(user.id));
  } finally {
    await services.close();
  }
}

async function main([command = "serve", ...args]: string[]) {
  const config = loadConfig();
  if (command === "serve") return serve(config);
  if (command === "token") return token(config, args[0]);
  console.error(usage);
  process.exit(2);
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err instanceof ConfigError || err instanceof AppError ? `error: ${err.message}` : err);
  process.exit(1);
});
