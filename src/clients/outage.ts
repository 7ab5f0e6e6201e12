import cassandra from "cassandra-driver";
import { ReplyError } from "ioredis";
import { MaxRetriesPerRequestError } from "ioredis/built/errors";
import { CONNECTION_CLOSED_ERROR_MSG } from "ioredis/built/utils";
import { KafkaJSError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded } from "kafkajs";
import { AppError } from "../errors";
import { RegistryUnavailable } from "./registry";

/**
 * Which store errors mean "that component is unreachable or busy, try again", told apart by
 * type and code, never by message: the stream loop retries them, the API answers them with 503
 * UNAVAILABLE and `canRetry: true`. Anything else is a rejected statement (a bug), not an outage.
 */
/** "network": a socket error whose client the error itself does not name. */
export type Component = "kafka" | "cassandra" | "redis" | "postgres" | "registry" | "network";

/** Cassandra responses that say "try again": unavailable, overloaded, bootstrapping, timed out, failed on a replica. */
const retryableCassandraCodes = new Set([0x1000, 0x1001, 0x1002, 0x1100, 0x1200, 0x1300, 0x1500]);
/** Socket-level failures, on any client. */
const socketCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
/** Redis replies that mean a node is loading, failing over or busy: transient by protocol. */
const transientRedisReplies = new Set(["LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN"]);
/** PostgreSQL SQLSTATEs and client codes for connection trouble, shutdown, overload, serialization. */
const retryableSqlStates = new Set(["40001", "40P01", "53300", "57P01", "57P02", "57P03", "08000", "08001", "08003", "08006"]);
const postgresClientCodes = new Set(["CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT"]);

type Coded = { code?: unknown; name?: string; message?: string; cause?: unknown; retriable?: boolean };

/** The component an outage-type error comes from, or undefined when the error is not an outage. */
export function outageOf(err: unknown): Component | undefined {
  const e = (err ?? {}) as Coded;
  const { errors } = cassandra;
  if (err instanceof errors.NoHostAvailableError || err instanceof errors.OperationTimedOutError || err instanceof errors.BusyConnectionError) {
    return "cassandra";
  }
  if (err instanceof errors.ResponseError) return retryableCassandraCodes.has(Number(e.code)) ? "cassandra" : undefined;
  // A request in flight when a node's socket closed (the driver flags these; with one node it has no other host to retry on).
  if (err instanceof errors.DriverError && (err as { isSocketError?: boolean }).isSocketError) return "cassandra";
  if (err instanceof KafkaJSError) return kafkaIsTransient(err) ? "kafka" : undefined;
  if (err instanceof RegistryUnavailable) return "registry";
  if (err instanceof ReplyError) return transientRedisReplies.has(String(e.message).split(" ")[0]!) ? "redis" : undefined;
  // ioredis rejects a command whose connection went away with a plain Error of this message, and
  // tells it apart the same way itself (Redis.js, on "Connection is closed.").
  if (err instanceof MaxRetriesPerRequestError || e.message === CONNECTION_CLOSED_ERROR_MSG) return "redis";
  if (typeof e.code === "string" && (retryableSqlStates.has(e.code) || postgresClientCodes.has(e.code))) return "postgres";
  if (typeof e.code === "string" && socketCodes.has(e.code)) return "network";
  return undefined;
}

/**
 * Kafka: connection loss, timeouts, a coordinator or leader moving, and retries that ran out on
 * any of those are transient; a non-retriable protocol answer (authorization, a bad request) is not.
 */
function kafkaIsTransient(err: KafkaJSError): boolean {
  if (err instanceof KafkaJSNumberOfRetriesExceeded) return true; // retries of a retriable error ran out
  const cause = (err as Coded).cause;
  if (cause instanceof KafkaJSError) return kafkaIsTransient(cause);
  return !(err instanceof KafkaJSNonRetriableError) && err.retriable !== false;
}

/**
 * The error as an AppError: UNAVAILABLE (retry) when it is an outage, else undefined. A caller
 * that knows which client failed says so (`client`), for a socket error that does not.
 */
export function asUnavailable(err: unknown, client?: Component): AppError | undefined {
  if (err instanceof AppError) return err.code === "UNAVAILABLE" ? err : undefined;
  const found = outageOf(err);
  const component = found === "network" ? (client ?? found) : found;
  if (!component) return undefined;
  const message = err instanceof Error ? err.message : String(err);
  return new AppError("UNAVAILABLE", `${labels[component]} is unavailable, retry: ${message}`, { cause: err, component });
}

const labels: Record<Component, string> = { kafka: "Kafka", cassandra: "Cassandra", redis: "Redis", postgres: "PostgreSQL", registry: "the schema registry", network: "a store" };
