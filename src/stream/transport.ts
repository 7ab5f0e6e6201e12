import type { ConsumerConfig, IHeaders, KafkaMessage, Message } from "kafkajs";
import type { Config } from "../config";
import { AppError } from "../errors";
import { asUnavailable } from "../clients/outage";
import { DecodeError } from "./decode-error";
import { FencedError } from "./lease";
import type { StageStatus } from "./status";

/**
 * What the consume loops share: how an error is classified (retry, dead-letter or stop, from the
 * error itself), the retry loop that never lets an offset move past a failed write, and the
 * dead-letter message format.
 */

/**
 * Turns any error from a store or Kafka into a DecodeError (dead-letter) or an AppError whose
 * canRetry decides: an outage of a component is retried, anything else (a statement a store
 * rejects, a bug) is not.
 */
export function classify(err: unknown): DecodeError | AppError {
  if (err instanceof DecodeError || err instanceof AppError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return asUnavailable(err) ?? new AppError("STORE_REJECTED", message, { cause: err });
}

/**
 * Runs `fn` until it succeeds, backing off (0.2 s doubling to 5 s, jittered) on retryable errors and
 * heart-beating so the group keeps the partition; throws the classified error otherwise. While
 * it retries, `status` says which component the stage is waiting for.
 */
export async function retrying<T>(
  fn: () => Promise<T>,
  opts: { label: string; heartbeat: () => Promise<void>; isRunning: () => boolean; onRetry?: () => void; status?: Pick<StageStatus, "waiting"> },
) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof FencedError) throw err;
      const e = classify(err);
      if (!(e instanceof AppError) || !e.canRetry || !opts.isRunning()) throw e;
      // Capped at 5 s: once the store answers again, the partition resumes within 5 s. Jittered,
      // so that every partition and every worker does not retry in the same instant.
      const delay = Math.round(Math.min(5000, 200 * 2 ** attempt) * (0.5 + Math.random() / 2));
      if (attempt === 0 || attempt % 10 === 0) console.warn(`[stream] ${opts.label}: ${e.message}; retrying in ${delay} ms (attempt ${attempt + 1})`);
      opts.status?.waiting(e.component ?? "a store", `${opts.label}: ${e.message}`);
      opts.onRetry?.();
      await Bun.sleep(delay);
      await opts.heartbeat().catch(() => {});
    }
  }
}

/**
 * Heart-beats once a second while a batch makes progress, so a long legitimate batch (a
 * celebrity's fan-out, a run of backfills) keeps its partition instead of being expelled at the
 * session timeout and replayed forever. Progress gates it: a batch that hangs stops
 * heart-beating, and the group gives its partition to another member.
 */
export function keepAlive(heartbeat: () => Promise<void>, everyMs = 1000) {
  let progressed = false;
  const timer = setInterval(() => {
    if (!progressed) return;
    progressed = false;
    heartbeat().catch(() => {}); // a rebalance in progress: the lease and the commit will tell
  }, everyMs);
  return {
    progress: () => {
      progressed = true;
    },
    stop: () => clearInterval(timer),
  };
}

/** A dead-letter message: the original key and value untouched, where it came from and why in headers. */
export function deadLetter(topic: string, partition: number, message: KafkaMessage, reason: string): Message {
  const headers: IHeaders = {
    "dlq.reason": reason,
    "dlq.topic": topic,
    "dlq.partition": String(partition),
    "dlq.offset": message.offset,
    "dlq.at": new Date().toISOString(),
  };
  return { key: message.key, value: message.value, headers };
}

/** kafkajs's heartbeat interval (its default), which the lease (lease.ts) allows for. */
export const heartbeatIntervalMs = 3000;

/**
 * Consumer settings both stages share: short fetch waits, a short session, no auto-created
 * topics. kafkajs never restarts a crashed consumer itself: the supervisor rebuilds it.
 */
export function consumerOptions(config: Config, groupId: string): ConsumerConfig {
  return {
    groupId,
    maxWaitTimeInMs: config.stream.maxWaitMs,
    // A crashed member's partitions move to the others after this long without heartbeats.
    sessionTimeout: config.stream.sessionTimeoutMs,
    heartbeatInterval: heartbeatIntervalMs,
    // A batch is committed whole or not at all, and a rebalance during it stops it (lease.ts):
    // batches of about 600 events (kafkajs's default 1 MiB held 2,600) lose little work to a
    // rebalance and commit often while a backlog drains.
    maxBytesPerPartition: 256 * 1024,
    rebalanceTimeout: config.stream.sessionTimeoutMs * 2,
    allowAutoTopicCreation: false,
    retry: { retries: 5, restartOnFailure: async () => false },
  };
}

/** The offset to commit after a message: the next one. */
export const after = (offset: string) => (BigInt(offset) + 1n).toString();
