import { Kafka, type logCreator, logLevel } from "kafkajs";
// @ts-expect-error kafkajs ships no types for its internals
import RequestQueue from "kafkajs/src/network/requestQueue/index.js";
import type { Config } from "../config";
import { type CapturedTable, kafkaNames } from "../names";

/**
 * kafkajs 2.2.4 bug (tulios/kafkajs#1751, #1704): after every response, each broker connection's
 * request queue schedules its next check at `throttledUntil - Date.now()`, a large negative delay
 * when nothing is throttled, even with nothing pending. The timer fires after 1 ms and schedules
 * itself again: a busy loop per connection that kept idle workers at several percent of a core,
 * and a `TimeoutNegativeWarning` at every start. With nothing pending there is nothing to check:
 * a request that has to wait schedules its own check when it is queued, and every response checks
 * the queue again. So the loop is not started then. (The fix proposed upstream, kafkajs#1768.)
 */
const scheduleCheck = RequestQueue.prototype.scheduleCheckPendingRequests;
RequestQueue.prototype.scheduleCheckPendingRequests = function (this: { pending: unknown[] }) {
  if (this.pending.length > 0) scheduleCheck.call(this);
};

/**
 * kafkajs checks every connection's in-flight requests for timeouts every 100 ms (`requestTimeout`
 * is 30 s): 10 wake-ups a second per connection, about 80 a second for an idle service with
 * eight connections. Once a second is enough to time out a 30 s request (it then fails at most
 * a second late), so the check kafkajs starts is replaced by one that runs once a second.
 */
export const requestTimeoutCheckMs = 1000;
type TimedQueue = {
  enforceRequestTimeout: boolean;
  requestTimeoutIntervalId?: ReturnType<typeof setInterval>;
  inflight: Map<number, { sentAt: number; requestTimeout: number; timeoutRequest(): void }>;
  isConnected(): boolean;
  destroy(): void;
};
const scheduleTimeoutCheck = RequestQueue.prototype.scheduleRequestTimeoutCheck;
RequestQueue.prototype.scheduleRequestTimeoutCheck = function (this: TimedQueue) {
  scheduleTimeoutCheck.call(this);
  if (!this.enforceRequestTimeout) return;
  clearInterval(this.requestTimeoutIntervalId);
  this.requestTimeoutIntervalId = setInterval(() => {
    const now = Date.now();
    for (const request of this.inflight.values()) if (now - request.sentAt > request.requestTimeout) request.timeoutRequest();
    if (!this.isConnected()) this.destroy();
  }, requestTimeoutCheckMs);
};

/**
 * The kafkajs client. Its logger prints WARN and above, one line per kind of message per 30 s
 * (a broker outage would otherwise print several JSON lines per second per client); probes that
 * expect refusals while a broker starts pass `quiet` so errors reach them as exceptions only.
 */
export function createKafka(config: Config["kafka"], clientId = "feedline", options: { quiet?: boolean } = {}) {
  return new Kafka({
    clientId,
    brokers: config.brokers,
    logLevel: options.quiet ? logLevel.NOTHING : logLevel.WARN,
    logCreator: throttledLog,
    connectionTimeout: 3000,
    retry: { retries: 3, initialRetryTime: 200 },
  });
}

/** kafkajs log entries as one line each, the same kind (namespace and message, digits aside) at most once per 30 s. */
const throttledLog: logCreator = () => {
  const last = new Map<string, { at: number; suppressed: number }>();
  return ({ namespace, level, log }) => {
    const kind = `${namespace}:${String(log.message).replace(/\d+/g, "#")}`;
    const seen = last.get(kind);
    const now = Date.now();
    if (seen && now - seen.at < 30_000) {
      seen.suppressed++;
      return;
    }
    const more = seen?.suppressed ? ` (${seen.suppressed} more like it in the last 30 s)` : "";
    last.set(kind, { at: now, suppressed: 0 });
    const cause = (log as { error?: string }).error;
    const line = `[kafkajs] ${namespace}: ${log.message}${cause && cause !== log.message ? `: ${cause}` : ""}${more}`;
    if (level === logLevel.ERROR) console.error(line);
    else console.warn(line);
  };
};

export { type CapturedTable, capturedTables } from "../names";

/** The change topic Debezium writes for a captured table (all names: kafkaNames in src/names.ts). */
export function changeTopic(config: Config["kafka"], table: CapturedTable) {
  return kafkaNames(config.topicPrefix).change(table);
}
