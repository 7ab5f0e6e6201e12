import { z } from "zod";
import type { CapturedTable } from "../clients/kafka";
import { type AvroDecoder, isAvro } from "./avro";
import { DecodeError } from "./decode-error";

/**
 * Decoding of Debezium change events into typed changes: Avro with a schema registry
 * (src/stream/avro.ts), as the connector writes them, or JSON without schemas, as it wrote them
 * before (events still in a topic after an upgrade). Anything that does not decode is a
 * DecodeError with the reason, for the dead-letter topic.
 */

/** int8 ids arrive as JSON numbers: refuse the ones a JS number cannot hold exactly rather than corrupt them. */
const id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER).transform(String);
/** timestamptz arrives as an ISO-8601 string (Debezium ZonedTimestamp). */
const time = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "is not a timestamp");

/**
 * The captured tables' rows, with the given id schema: numbers from Debezium, strings once decoded.
 * Columns not named here (one added by a later migration) pass through to the handlers as they are.
 */
export function rowSchemasWith<I extends z.ZodType<string, unknown>>(id: I) {
  const object = z.looseObject;
  return {
    users: object({ id, handle: z.string(), display_name: z.string().nullable(), created_at: time }),
    follows: object({ follower_id: id, followee_id: id, created_at: time }),
    posts: object({ id, author_id: id, body: z.string(), created_at: time }),
    // post_author_id: absent from events captured before migration 005.
    comments: object({ id, post_id: id, post_author_id: id.nullish(), author_id: id, body: z.string(), created_at: time }),
    likes: object({ user_id: id, post_id: id, post_author_id: id.nullish(), created_at: time }),
    mentions: object({ id, post_id: id, comment_id: id.nullable(), user_id: id, author_id: id, created_at: time }),
    notification_marks: object({ user_id: id, group_id: z.string().max(200), seen_at: time.nullable(), read_at: time.nullable() }),
  } satisfies Record<CapturedTable, z.ZodType>;
}

const rowSchemas = rowSchemasWith(id);

export type Rows = { [T in CapturedTable]: z.output<(typeof rowSchemas)[T]> };

const envelope = z.object({
  op: z.enum(["c", "u", "d", "r"]),
  // Objects, not records: Avro's decoded rows are instances of a class per schema.
  before: z.looseObject({}).nullable(),
  after: z.looseObject({}).nullable(),
  source: z.object({ ts_ms: z.number(), table: z.string() }),
});

/** A row as it now is (upsert) or as it was when deleted (delete, whole row thanks to REPLICA IDENTITY FULL). */
export type Change<T extends CapturedTable = CapturedTable> = {
  [K in T]: { table: K; op: "upsert" | "delete"; row: Rows[K]; sourceTs: number };
}[T];

/**
 * Decodes one message value; `null` for a tombstone (nothing to do). Throws DecodeError. An Avro
 * value needs `avro`, with the value's schema loaded.
 */
export function decodeChange(table: CapturedTable, value: Buffer | string | null, avro?: AvroDecoder): Change | null {
  if (value === null) return null;
  const env = envelope.safeParse(typeof value !== "string" && isAvro(value) ? avroValue(value, avro) : parseJson(value));
  if (!env.success) throw new DecodeError(`not a Debezium envelope: ${describe(env.error)}`);
  const { op, before, after, source } = env.data;
  if (source.table !== table) throw new DecodeError(`event of table ${source.table} on the topic of ${table}`);
  const raw = op === "d" ? before : after;
  if (!raw) throw new DecodeError(`op ${op} without ${op === "d" ? "before (is REPLICA IDENTITY FULL set?)" : "after"}`);
  const row = rowSchemas[table].safeParse(raw);
  if (!row.success) throw new DecodeError(`bad ${table} row: ${describe(row.error)}`);
  return { table, op: op === "d" ? "delete" : "upsert", row: row.data, sourceTs: source.ts_ms } as Change;
}

function avroValue(value: Buffer, avro: AvroDecoder | undefined) {
  if (!avro) throw new DecodeError("an Avro value, and no schema registry to decode it with");
  return avro.decode(value);
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
