import type { Consumer } from "kafkajs";
import { KafkaJSError } from "kafkajs";
import { AppError } from "../errors";
import type { StageStatus } from "./status";
import { classify } from "./transport";

/**
 * Keeps one consume stage (a consumer group member and its producer) alive through any outage.
 *
 * kafkajs restarts a crashed consumer only for some errors and gives up on others (a broker
 * that stays away past its retries ends in a non-retriable error), leaving a process that is
 * alive but consumes nothing. So the stage never lets kafkajs decide: on a crash, or a start
 * that fails, the supervisor throws the old consumer and producer away and builds new ones
 * after a bounded, jittered back-off (0.5 s doubling to 5 s), for as long as it takes. The new member rejoins the group
 * and resumes from the committed offsets, so nothing is skipped.
 *
 * The one thing it does not retry is a write a store rejected (a bug, not an outage): the
 * process exits non-zero through `onFatal`, so that its supervisor restarts it and the crash
 * loop is visible, rather than running on with a stage that silently stopped.
 */
export interface Stage {
  consumer: Consumer;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Back-off before the n-th rebuild (0-based): 0.5 s doubling to `maxMs` (5 s: a broker that
 * answers again is rejoined within that), jittered over the upper half.
 */
export function backoffMs(attempt: number, maxMs = 5000, random = Math.random) {
  const ceiling = Math.min(maxMs, 500 * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Runs stages made by `create`, rebuilding one after every crash until `stop`. */
export function supervise(opts: { create: () => Stage; status: StageStatus; onFatal: (err: unknown) => void; maxBackoffMs?: number }) {
  const { status } = opts;
  let current: Stage | undefined;
  let stopped = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let runningSince = 0;

  async function launch() {
    timer = undefined;
    if (stopped) return;
    const stage = opts.create();
    current = stage;
    const { CRASH, GROUP_JOIN } = stage.consumer.events;
    stage.consumer.on(CRASH, ({ payload }) => void crashed(stage, payload.error));
    stage.consumer.on(GROUP_JOIN, () => {
      if (stage !== current) return;
      runningSince = Date.now();
      status.running();
    });
    try {
      await stage.start();
    } catch (err) {
      await crashed(stage, err);
    }
  }

  async function crashed(stage: Stage, err: unknown) {
    if (stage !== current || stopped) return; // each stage is rebuilt once
    current = undefined;
    const e = classify(err);
    if (isFatal(e)) {
      status.stopped();
      console.error(`[stream] ${status.name} cannot go on: ${e.message}`);
      await stopQuietly(stage);
      opts.onFatal(e);
      return;
    }
    // A stage that ran a while before this crash starts again from the shortest back-off.
    if (runningSince && Date.now() - runningSince > 30_000) attempt = 0;
    runningSince = 0;
    const delay = backoffMs(attempt++, opts.maxBackoffMs);
    status.waiting(e instanceof AppError && e.component ? e.component : "kafka", `${e.message}; rebuilding the consumer in ${delay} ms`);
    await stopQuietly(stage);
    status.restarted();
    if (!stopped) timer = setTimeout(launch, delay);
  }

  void launch();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      const stage = current;
      current = undefined;
      status.stopped();
      if (stage) await stage.stop();
    },
  };
}

/**
 * Fatal: a write a store rejected, or a bug. Kafka's own errors never are: whatever the broker
 * answered, a new consumer may get another answer once the cluster is back in shape.
 */
function isFatal(e: AppError | Error) {
  if (!(e instanceof AppError)) return false; // a DecodeError cannot escape a batch; treat anything else as transient
  return !e.canRetry && !(e.cause instanceof KafkaJSError);
}

async function stopQuietly(stage: Stage) {
  await Promise.race([stage.stop().catch(() => {}), Bun.sleep(10_000)]);
}
