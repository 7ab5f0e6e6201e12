/**
 * The names the whole pipeline derives from configuration: the captured tables, and every Kafka
 * topic and consumer group, connector, replication slot and publication name. Below the config
 * (which exposes some of them), importing nothing.
 */

/**
 * The tables Debezium captures, one change topic each. The one list: the change topics, the
 * connector's `table.include.list` (deploy/stack/setup/connector.ts) and `stack snapshot` derive from it.
 */
export const capturedTables = ["users", "follows", "posts", "comments", "likes", "mentions", "notification_marks"] as const;
export type CapturedTable = (typeof capturedTables)[number];

/** Debezium's signalling table (migration 003): captured so the connector sees snapshot requests, but no source of feed events. */
export const signalTable = "debezium_signal";

/**
 * Every Kafka topic and consumer group name, and the connector's name, replication slot and
 * publication, derived from the topic prefix (the connector's `topic.prefix`): one variable
 * namespaces a deployment's whole pipeline (`npm test` runs in a namespace of its own).
 */
export function kafkaNames(prefix: string) {
  /** PostgreSQL's slot names allow lower-case letters, digits and `_` only. */
  const pgName = prefix.replaceAll("-", "_");
  const change = (table: CapturedTable | typeof signalTable) => `${prefix}.public.${table}`;
  return {
    /** Debezium's change topic of a captured table: `<topic.prefix>.<schema>.<table>`. */
    change,
    /** Debezium's events for the signalling table; nothing consumes them. */
    signal: change(signalTable),
    heartbeat: `__debezium-heartbeat.${prefix}`,
    /** The router re-keys every change by user onto this topic; the feed worker consumes it. */
    events: `${prefix}.events`,
    dlq: `${prefix}.dlq`,
    routerGroup: `${prefix}-router`,
    feedsGroup: `${prefix}-feeds`,
    connector: `${prefix}-postgres`,
    slot: `${pgName}_debezium`,
    publication: `${pgName}_publication`,
  };
}
