import { z } from "zod";
import type { CapturedTable } from "../clients/kafka";

/**
 * Decoding of Debezium change events (JSON converter, schemas disabled) into typed changes.
 * Anything that does not decode is a DecodeError with the reason, for the dead-letter topic.
 */

export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecodeError";
  }
}

/** int8 ids arrive as JSON numbers: refuse the ones a JS number cannot hold exactly rather than corrupt them. */
const id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER).transform(String);
/** timestamptz arrives as an ISO-8601 string (Debezium ZonedTimestamp). */
const time = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "is not a timestamp");

/** The captured tables' rows, with the given id schema: numbers from Debezium, strings once decoded. */
export function rowSchemasWith<I extends z.ZodType<string, unknown>>(id: I) {
  return {
    users: z.object({ id, handle: z.string(), display_name: z.string().nullable(), created_at: time }),
    follows: z.object({ follower_id: id, followee_id: id, created_at: time }),
    posts: z.object({ id, author_id: id, body: z.string(), created_at: time }),
    // post_author_id: absent from events captured before migration 005.
    comments: z.object({ id, post_id: id, post_author_id: id.nullish(), author_id: id, body: z.string(), created_at: time }),
    likes: z.object({ user_id: id, post_id: id, post_author_id: id.nullish(), created_at: time }),
    mentions: z.object({ id, post_id: id, comment_id: id.nullable(), user_id: id, author_id: id, created_at: time }),
    notification_marks: z.object({ user_id: id, group_id: z.string().max(200), seen_at: time.nullable(), read_at: time.nullable() }),
  } satisfies Record<CapturedTable, z.ZodType>;
}

const rowSchemas = rowSchemasWith(id);

export type Rows = { [T in CapturedTable]: z.output<(typeof rowSchemas)[T]> };

const envelope = z.object({
  op: z.enum(["c", "u", "d", "r"]),
  before: z.record(z.string(), z.unknown()).nullable(),
  after: z.record(z.string(), z.unknown()).nullable(),
  source: z.object({ ts_ms: z.number(), table: z.string() }),
});

/** A row as it now is (upsert) or as it was when deleted (delete, whole row thanks to REPLICA IDENTITY FULL). */
export type Change<T extends CapturedTable = CapturedTable> = {
  [K in T]: { table: K; op: "upsert" | "delete"; row: Rows[K]; sourceTs: number };
}[T];

/** Decodes one message value; `null` for a tombstone (nothing to do). Throws DecodeError. */
export function decodeChange(table: CapturedTable, value: Buffer | string | null): Change | null {
  if (value === null) return null;
  const env = envelope.safeParse(parseJson(value));
  if (!env.success) throw new DecodeError(`not a Debezium envelope: ${describe(env.error)}`);
  const { op, before, after, source } = env.data;
  if (source.table !== table) throw new DecodeError(`event of table ${source.table} on the topic of ${table}`);
  const raw = op === "d" ? before : after;
  if (!raw) throw new DecodeError(`op ${op} without ${op === "d" ? "before (is REPLICA IDENTITY FULL set?)" : "after"}`);
  const row = rowSchemas[table].safeParse(raw);
  if (!row.success) throw new DecodeError(`bad ${table} row: ${describe(row.error)}`);
  return { table, op: op === "d" ? "delete" : "upsert", row: row.data, sourceTs: source.ts_ms } as Change;
}

/** A message value as JSON, or a DecodeError saying it is not. */
export function parseJson(value: Buffer | string): unknown {
  try {
    return JSON.parse(value.toString());
  } catch {
    throw new DecodeError("value is not JSON");
  }
}

/** Zod issues as one line for a dead-letter reason. */
export function describe(error: z.ZodError) {
  return error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
}
