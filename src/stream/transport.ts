import cassandra from "cassandra-driver";
import type { ConsumerConfig } from "kafkajs";
import type { Config } from "../config";
import type { IHeaders, KafkaMessage, Message } from "kafkajs";
import { AppError, isRedisConnectionError } from "../errors";
import { DecodeError } from "./envelope";

/**
 * What the consume loops share: how an error is classified (retry, dead-letter or stop, from the
 * error itself), the retry loop that never lets an offset move past a failed write, and the
 * dead-letter message format.
 */

/** Cassandra errors that say "try again": the node is unavailable, overloaded, starting, or timed out. */
const retryableCassandraCodes = new Set([0x1000, 0x1001, 0x1002, 0x1100, 0x1200, 0x1300]);

/** Turns any error from a store or Kafka into a DecodeError (dead-letter) or an AppError whose canRetry decides. */
export function classify(err: unknown): DecodeError | AppError {
  if (err instanceof DecodeError || err instanceof AppError) return err;
  const e = err as { name?: string; code?: number | string; retriable?: boolean; message?: string };
  const message = e.message ?? String(err);
  const { errors } = cassandra;
  if (err instanceof errors.NoHostAvailableError || err instanceof errors.OperationTimedOutError || err instanceof errors.BusyConnectionError) {
    return new AppError("UNAVAILABLE", `Cassandra: ${message}`, { cause: err });
  }
  if (err instanceof errors.ResponseError) {
    return retryableCassandraCodes.has(Number(e.code))
      ? new AppError("UNAVAILABLE", `Cassandra: ${message}`, { cause: err })
      : new AppError("STORE_REJECTED", `Cassandra rejected a statement: ${message}`, { cause: err });
  }
  if (e.name?.startsWith("KafkaJS")) {
    return new AppError(e.retriable === false ? "STORE_REJECTED" : "UNAVAILABLE", `Kafka: ${message}`, { cause: err });
  }
  // A Redis command or Lua error is a bug, not a blip: only connection trouble is retried.
  if (isRedisConnectionError(err)) {
    return new AppError("UNAVAILABLE", `Redis: ${message}`, { cause: err });
  }
  return new AppError("STORE_REJECTED", message, { cause: err });
}

/**
 * Runs `fn` until it succeeds, backing off (0.2 s doubling to 10 s) on retryable errors and
 * heart-beating so the group keeps the partition; throws the classified error otherwise.
 */
export async function retrying<T>(fn: () => Promise<T>, opts: { label: string; heartbeat: () => Promise<void>; isRunning: () => boolean; onRetry?: () => void }) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const e = classify(err);
      if (!(e instanceof AppError) || !e.canRetry || !opts.isRunning()) throw e;
      const delay = Math.min(10_000, 200 * 2 ** attempt);
      console.warn(`[stream] ${opts.label}: ${e.message}; retrying in ${delay} ms (attempt ${attempt + 1})`);
      opts.onRetry?.();
      await Bun.sleep(delay);
      await opts.heartbeat().catch(() => {});
    }
  }
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

/** Consumer settings both stages share: short fetch waits, a short session, no auto-created topics, no restart after a fatal error. */
export function consumerOptions(config: Config, groupId: string): ConsumerConfig {
  return {
    groupId,
    maxWaitTimeInMs: config.stream.maxWaitMs,
    // A crashed member's partitions move to the others after this long without heartbeats.
    sessionTimeout: config.stream.sessionTimeoutMs,
    rebalanceTimeout: config.stream.sessionTimeoutMs * 2,
    allowAutoTopicCreation: false,
    retry: { retries: 5, restartOnFailure: async () => false },
  };
}

/** The offset to commit after a message: the next one. */
export const after = (offset: string) => (BigInt(offset) + 1n).toString();
