import { startCaptureWatchdog } from "./capture";
import type { Config } from "./config";
import { probes } from "./health";
import type { Services } from "./services";
import { startKeyExpiry } from "./source/key-expiry";
import { startInactiveSweep } from "./fanout/inactive";
import { startStream } from "./stream";

/**
 * The worker role's work, off the request path: the two stream stages, the capture watchdog,
 * the idempotency-key expiry and the sweep that marks inactive users. `serve --role worker` runs it on the process's own event loop;
 * `serve` (all roles) runs it in a thread of its own (background-thread.ts), so that stream load
 * does not delay API requests queued behind it.
 */
export async function startBackground(config: Config, services: Services, onFatal: () => void) {
  const stream = await startStream({ kafka: services.kafka, admin: services.kafkaAdmin, config, metrics: services.metrics, feeds: services.feeds, fanout: services.fanout, objects: services.objects, notifier: services.notifier, dormancy: services.dormancy, onFatal });
  const capture = startCaptureWatchdog({ config, metrics: services.metrics, kafkaUp: () => probes.kafka(services.kafkaAdmin).then(() => true) });
  const keyExpiry = startKeyExpiry({ sql: services.sql, lifetimes: config.idempotency, metrics: services.metrics });
  const inactive = startInactiveSweep({ feeds: services.feeds, dormancy: services.dormancy, metrics: services.metrics });
  return {
    /** The health checks it adds to /healthz. */
    checks: { stream: stream.check, capture: capture.check } as Record<string, () => Promise<void>>,
    async stop() {
      await stream.stop();
      await capture.stop();
      await keyExpiry.stop();
      await inactive.stop();
    },
  };
}

export type Background = Awaited<ReturnType<typeof startBackground>>;

/** Messages between the API's thread and the background thread. */
export type ToBackground = { id: number; kind: "check"; name: string } | { id: number; kind: "metrics"; exclude: string[] } | { id: number; kind: "stop" };
export type FromBackground =
  | { kind: "ready"; checks: string[] }
  | { kind: "fatal" }
  | { kind: "failed"; error: string }
  | { id: number; kind: "reply"; ok: true; value?: string }
  | { id: number; kind: "reply"; ok: false; error: string };

/**
 * Starts the background work in a thread of its own (background-thread.ts) and resolves once it
 * runs. The API thread asks it for its health checks and its metrics; a fatal stage error in it
 * calls `onFatal`, as it would in a worker-only process.
 */
export async function startBackgroundThread(onFatal: () => void) {
  const thread = new Worker(new URL("./background-thread.ts", import.meta.url));
  const pending = new Map<number, { resolve: (value: string | undefined) => void; reject: (err: Error) => void }>();
  let next = 0;
  const ready = Promise.withResolvers<string[]>();
  thread.onmessage = ({ data }: MessageEvent<FromBackground>) => {
    if (data.kind === "ready") ready.resolve(data.checks);
    else if (data.kind === "failed") ready.reject(new Error(`the background thread did not start: ${data.error}`));
    else if (data.kind === "fatal") onFatal();
    else {
      const waiter = pending.get(data.id);
      pending.delete(data.id);
      if (data.ok) waiter?.resolve(data.value);
      else waiter?.reject(new Error(data.error));
    }
  };
  thread.onerror = (event) => {
    console.error(`[background] the thread failed: ${event.message}`);
    onFatal();
  };
  type Request = ToBackground extends infer T ? (T extends ToBackground ? Omit<T, "id"> : never) : never;
  const ask = (message: Request) =>
    new Promise<string | undefined>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      thread.postMessage({ ...message, id } as ToBackground);
    });
  const checks = await ready.promise;
  return {
    checks: Object.fromEntries(checks.map((name) => [name, async () => void (await ask({ kind: "check", name }))])) as Record<string, () => Promise<void>>,
    /** Its metrics in Prometheus text, without the families named in `exclude`. */
    metrics: async (exclude: string[]) => (await ask({ kind: "metrics", exclude })) ?? "",
    async stop() {
      await ask({ kind: "stop" });
      thread.terminate();
    },
  };
}
