import { Kafka, logLevel } from "kafkajs";
import type { Config } from "../config";

/**
 * The kafkajs client. Its logger prints WARN and above; probes that expect refusals while a
 * broker starts pass `quiet` so errors reach them as exceptions only.
 */
export function createKafka(config: Config["kafka"], clientId = "feedline", options: { quiet?: boolean } = {}) {
  return new Kafka({
    clientId,
    brokers: config.brokers,
    logLevel: options.quiet ? logLevel.NOTHING : logLevel.WARN,
    connectionTimeout: 3000,
    retry: { retries: 3, initialRetryTime: 200 },
  });
}

/** Names of the change topics Debezium writes, one per captured table. */
export const capturedTables = ["users", "follows", "posts", "comments", "likes"] as const;
export type CapturedTable = (typeof capturedTables)[number];

export function changeTopic(config: Config["kafka"], table: CapturedTable) {
  return `${config.topicPrefix}.public.${table}`;
}
