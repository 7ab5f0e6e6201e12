import { createApp } from "./app";
import { ConfigError, devTokenSecret, loadConfig } from "./config";
import { createServices } from "./services";

/** Wires config → clients → app and serves it; stops cleanly on SIGINT/SIGTERM. */
async function main() {
  const config = loadConfig();
  const services = await createServices(config);
  if (config.auth.secret === devTokenSecret) {
    console.warn("warning: FEEDLINE_TOKEN_SECRET is not set; tokens are signed with the public development secret");
  }
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

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
