import type { Admin, Kafka } from "kafkajs";
import type { Config } from "../config";
import type { Metrics } from "../metrics";
import type { FeedStore } from "../store/feeds";
import { consumerLag } from "./lag";
import { createRouter } from "./router";
import { createFeedWorker } from "./worker";

/** The stream role: the router and the feed worker in this process, joined to their consumer groups. */
export async function startStream(deps: { kafka: Kafka; admin: Admin; config: Config; metrics: Metrics; feeds: FeedStore }) {
  const { kafka, admin, config, metrics, feeds } = deps;
  const router = createRouter({ kafka, config, metrics });
  const worker = createFeedWorker({ kafka, config, metrics, feeds });
  let failure: string | undefined;
  for (const [name, consumer] of [["router", router.consumer], ["feed worker", worker.consumer]] as const) {
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      failure = `${name} stopped: ${payload.error.message}`;
      console.error(`[stream] ${failure}`);
    });
  }
  await router.start();
  await worker.start();

  const lag = metrics.gauge("feedline_consumer_lag", "Messages not yet consumed and committed, per group, topic and partition.");
  metrics.collect(async () => {
    await admin.connect();
    for (const r of await consumerLag(admin, config)) lag.set({ group: r.group, topic: r.topic, partition: String(r.partition) }, r.lag);
  });

  return {
    /** For /healthz: the stream is healthy while its consumers run. */
    check: async () => {
      if (failure) throw new Error(failure);
    },
    async stop() {
      await router.stop();
      await worker.stop();
    },
  };
}
