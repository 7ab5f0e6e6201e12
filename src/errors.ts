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
  NOTIFICATION_NOT_FOUND: { trpc: "NOT_FOUND", canRetry: false },
  HANDLE_TAKEN: { trpc: "CONFLICT", canRetry: false },
  ALREADY_FOLLOWING: { trpc: "CONFLICT", canRetry: false },
  ALREADY_LIKED: { trpc: "CONFLICT", canRetry: false },
  CANNOT_FOLLOW_SELF: { trpc: "BAD_REQUEST", canRetry: false },
  IDEMPOTENCY_KEY_REUSED: { trpc: "UNPROCESSABLE_CONTENT", canRetry: false },
  INVALID_CURSOR: { trpc: "BAD_REQUEST", canRetry: false },
  PAYLOAD_TOO_LARGE: { trpc: "PAYLOAD_TOO_LARGE", canRetry: false },
  TOO_MANY_REQUESTS: { trpc: "TOO_MANY_REQUESTS", canRetry: true },
  UNAVAILABLE: { trpc: "SERVICE_UNAVAILABLE", canRetry: true },
  STORE_REJECTED: { trpc: "INTERNAL_SERVER_ERROR", canRetry: false },
} as const satisfies Record<string, { trpc: TRPCError["code"]; canRetry: boolean }>;

export type ErrorCode = keyof typeof errorCodes;

export class AppError extends Error {
  readonly canRetry: boolean;
  /** For UNAVAILABLE: which component is down (kafka, cassandra, redis, postgres), when known. */
  readonly component?: string;
  /** For TOO_MANY_REQUESTS: when the budget refills (the Retry-After header). */
  readonly retryAfterSeconds?: number;
  constructor(readonly code: ErrorCode, message: string, options?: { cause?: unknown; component?: string; retryAfterSeconds?: number }) {
    super(message, options);
    this.name = "AppError";
    this.canRetry = errorCodes[code].canRetry;
    this.component = options?.component;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** The one place an AppError becomes a tRPC error; the AppError stays as its cause. */
export function toTRPCError(err: AppError) {
  return new TRPCError({ code: errorCodes[err.code].trpc, message: err.message, cause: err });
}

/** Maps a PostgreSQL error to an AppError using its constraint name; undefined when not ours to explain. */
export function fromPostgresError(err: unknown, byConstraint: Record<string, [ErrorCode, string]>): AppError | undefined {
  const e = err as { constraint_name?: string };
  const known = e.constraint_name ? byConstraint[e.constraint_name] : undefined;
  return known ? new AppError(known[0], known[1], { cause: err }) : undefined;
}
