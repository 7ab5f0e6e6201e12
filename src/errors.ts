import { TRPCError } from "@trpc/server";

/**
 * The fixed list of errors the service reports, each with the tRPC code it maps to and whether
 * a client (or the stream loop) may retry. Stores and handlers throw AppError; one middleware
 * turns it into a TRPCError; clients read `data.appCode`.
 */
export const errorCodes = {
  INVALID_INPUT: { trpc: "BAD_REQUEST", canRetry: false },
  UNAUTHENTICATED: { trpc: "UNAUTHORIZED", canRetry: false },
  FORBIDDEN: { trpc: "FORBIDDEN", canRetry: false },
  USER_NOT_FOUND: { trpc: "NOT_FOUND", canRetry: false },
  POST_NOT_FOUND: { trpc: "NOT_FOUND", canRetry: false },
  COMMENT_NOT_FOUND: { trpc: "NOT_FOUND", canRetry: false },
  NOT_FOLLOWING: { trpc: "NOT_FOUND", canRetry: false },
  NOT_LIKED: { trpc: "NOT_FOUND", canRetry: false },
  HANDLE_TAKEN: { trpc: "CONFLICT", canRetry: false },
  ALREADY_FOLLOWING: { trpc: "CONFLICT", canRetry: false },
  ALREADY_LIKED: { trpc: "CONFLICT", canRetry: false },
  CANNOT_FOLLOW_SELF: { trpc: "BAD_REQUEST", canRetry: false },
  IDEMPOTENCY_KEY_REUSED: { trpc: "UNPROCESSABLE_CONTENT", canRetry: false },
  INVALID_CURSOR: { trpc: "BAD_REQUEST", canRetry: false },
  UNAVAILABLE: { trpc: "SERVICE_UNAVAILABLE", canRetry: true },
  STORE_REJECTED: { trpc: "INTERNAL_SERVER_ERROR", canRetry: false },
} as const satisfies Record<string, { trpc: TRPCError["code"]; canRetry: boolean }>;

export type ErrorCode = keyof typeof errorCodes;

export class AppError extends Error {
  readonly canRetry: boolean;
  constructor(readonly code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AppError";
    this.canRetry = errorCodes[code].canRetry;
  }
}

/** The one place an AppError becomes a tRPC error; the AppError stays as its cause. */
export function toTRPCError(err: AppError) {
  return new TRPCError({ code: errorCodes[err.code].trpc, message: err.message, cause: err });
}

/** PostgreSQL SQLSTATEs a client may retry after: serialization/deadlock, connection trouble, shutdown. */
const retryableSqlStates = new Set(["40001", "40P01", "53300", "57P01", "57P02", "57P03", "08000", "08001", "08003", "08006"]);

/** Maps a PostgreSQL error to an AppError using its constraint name; undefined when not ours to explain. */
export function fromPostgresError(err: unknown, byConstraint: Record<string, [ErrorCode, string]>): AppError | undefined {
  const e = err as { code?: string; constraint_name?: string };
  const known = e.constraint_name ? byConstraint[e.constraint_name] : undefined;
  if (known) return new AppError(known[0], known[1], { cause: err });
  if (e.code && retryableSqlStates.has(e.code)) return new AppError("UNAVAILABLE", "the database is busy or restarting; retry", { cause: err });
  if (e.code === "ECONNREFUSED" || e.code === "CONNECTION_CLOSED" || e.code === "CONNECT_TIMEOUT") {
    return new AppError("UNAVAILABLE", "the database cannot be reached; retry", { cause: err });
  }
  return undefined;
}

/** ioredis connection trouble (as opposed to a command or script error, which is a bug). */
export function isRedisConnectionError(err: unknown) {
  const e = err as { name?: string; message?: string };
  return e.name === "MaxRetriesPerRequestError" || /ECONNREFUSED|ECONNRESET|Connection is closed|ETIMEDOUT|EPIPE/.test(e.message ?? "");
}
