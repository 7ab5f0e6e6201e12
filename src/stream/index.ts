import type { Admin, Kafka } from "kafkajs";
import type { Config } from "../config";
import type { Metrics } from "../metrics";
import type { Fanout } from "../fanout/fanout";
import type { Dormancy } from "../feeds/dormancy";
import type { FeedStore } from "../feeds/store";
import type { ObjectCache } from "../feeds/objects";
import type { Notifier } from "../fanout/notify";
import { consumerLag } from "./lag";
import { createRekeyStage } from "./rekey";
import { createAvroDecoder } from "./avro";
import { createSchemaRegistry } from "../clients/registry";
import { createStageStatus, type StageStatus } from "./status";
import { supervise } from "./supervisor";
import { createFeedWorker } from "./worker";

/**
 * The stream role: the rekey stage and the feed worker in this process, joined to their consumer
 * groups, each kept alive by a supervisor through any outage (see supervisor.ts). `onFatal` is
 * called when a stage cannot go on (a store rejected a write): the caller exits non-zero.
 */
export async function startStream(deps: { kafka: Kafka; admin: Admin; config: Config; metrics: Metrics; feeds: FeedStore; fanout: Fanout; objects: ObjectCache; notifier: Notifier; dormancy: Dormancy; onFatal: (err: unknown) => void }) {
  const { kafka, admin, config, metrics, feeds, fanout, objects, notifier, dormancy, onFatal } = deps;
  const rekeyStatus = createStageStatus("router", metrics);
  const workerStatus = createStageStatus("worker", metrics);
  // Schemas are kept across the stage's restarts: an id never changes meaning.
  const avro = createAvroDecoder(createSchemaRegistry(config.registry.ccompat).schema);
  const rekey = supervise({ status: rekeyStatus, onFatal, create: () => createRekeyStage({ kafka, config, metrics, avro, status: rekeyStatus }) });
  const worker = supervise({ status: workerStatus, onFatal, create: () => createFeedWorker({ kafka, config, metrics, feeds, fanout, objects, notifier, dormancy, status: workerStatus }) });

  const lag = metrics.gauge("feedline_consumer_lag", "Messages not yet consumed and committed, per group, topic and partition.");
  metrics.collect(async () => {
    await admin.connect();
    for (const r of await consumerLag(admin, config)) lag.set({ group: r.group, topic: r.topic, partition: String(r.partition) }, r.lag);
  });

  // A stage that says "running" but has done nothing for a while is fine when there is nothing
  // to do, and stalled when its group has lag: never alive-but-silently-stopped.
  const groupLag = cached(10_000, async () => {
    const rows = await consumerLag(admin, config);
    return (group: string) => rows.filter((r) => r.group === group).reduce((sum, r) => sum + r.lag, 0);
  });
  async function describeStall(status: StageStatus, group: string) {
    const idle = status.idleMs();
    if (status.get().state !== "running" || idle < stallMs) return [];
    const lag = (await groupLag())(group);
    return lag > 0 ? [`${status.name} has applied nothing for ${Math.round(idle / 1000)} s while group ${group} has ${lag} messages of lag`] : [];
  }

  return {
    /** For /healthz: healthy while both stages consume; otherwise what each waits for, and since when. */
    check: async () => {
      const problems = [
        ...[rekeyStatus, workerStatus].flatMap(describeTrouble),
        ...(await describeStall(rekeyStatus, config.stream.routerGroup)),
        ...(await describeStall(workerStatus, config.stream.feedsGroup)),
      ];
      if (problems.length) throw new Error(problems.join("; "));
    },
    async stop() {
      await Promise.all([rekey.stop(), worker.stop()]);
    },
  };
}

/** How long a running stage may do nothing while its group has lag before /healthz calls it stalled. */
const stallMs = 120_000;

/** `fn`'s last result, computed again at most every `ms`. */
function cached<T>(ms: number, fn: () => Promise<T>) {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    if (!last || Date.now() - last.at > ms) last = { at: Date.now(), value: fn() };
    return last.value;
  };
}

function describeTrouble(status: StageStatus): string[] {
  const s = status.get();
  if (s.state === "running") return [];
  const since = `since ${new Date(s.since).toISOString()} (${Math.round((Date.now() - s.since) / 1000)} s)`;
  const what = s.state === "waiting" ? `waiting for ${s.waitingFor}` : s.state;
  return [`${status.name} ${what} ${since}${s.restarts ? `, ${s.restarts} restarts` : ""}${s.detail ? `: ${s.detail}` : ""}`];
}
