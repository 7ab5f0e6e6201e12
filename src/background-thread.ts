import { startBackground, type FromBackground, type ToBackground } from "./background";
import { loadConfig } from "./config";
import { createServices } from "./services";

/**
 * The entry of the background thread that `serve` starts (main.ts): its own clients and event
 * loop, the same environment. It answers the API thread's health checks and metrics requests,
 * and reports a fatal stage error, on which the process exits for its supervisor to restart it.
 */
declare const self: Worker;
const send = (message: FromBackground) => self.postMessage(message);

try {
  const config = loadConfig();
  const services = await createServices(config);
  const background = await startBackground(config, services, () => send({ kind: "fatal" }));
  self.onmessage = async ({ data }: MessageEvent<ToBackground>) => {
    try {
      if (data.kind === "check") await background.checks[data.name]!();
      const value = data.kind === "metrics" ? await services.metrics.render({ onlyWithSamples: true, exclude: data.exclude }) : undefined;
      if (data.kind === "stop") {
        await background.stop();
        await services.close();
      }
      send({ id: data.id, kind: "reply", ok: true, value });
    } catch (err) {
      send({ id: data.id, kind: "reply", ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  };
  send({ kind: "ready", checks: Object.keys(background.checks) });
} catch (err) {
  send({ kind: "failed", error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
}
