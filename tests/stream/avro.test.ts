import { describe, expect, test } from "bun:test";
import avsc from "avsc";
import { RegistryUnavailable, UnknownSchema } from "../../src/clients/registry";
import { createAvroDecoder, longType } from "../../src/stream/avro";
import { DecodeError } from "../../src/stream/decode-error";
import { decodeChange } from "../../src/stream/envelope";

// The Confluent wire format and Debezium's Avro envelope, decoded without a registry: the schemas
// come from a map, as the registry would answer them by id.

const postValue = (extra: object[] = []) => ({
  type: "record",
  name: "Value",
  namespace: "feedline.public.posts",
  fields: [
    { name: "id", type: "long" },
    { name: "author_id", type: "long" },
    { name: "body", type: "string" },
    { name: "created_at", type: { type: "string", "connect.name": "io.debezium.time.ZonedTimestamp" } },
    ...extra,
  ],
});
const envelope = (value: object) => ({
  type: "record",
  name: "Envelope",
  namespace: "feedline.public.posts",
  fields: [
    { name: "before", type: ["null", value], default: null },
    { name: "after", type: ["null", "Value"], default: null },
    { name: "source", type: { type: "record", name: "Source", fields: [{ name: "ts_ms", type: "long" }, { name: "ts_ns", type: ["null", "long"], default: null }, { name: "table", type: "string" }] } },
    { name: "op", type: "string" },
  ],
});

const schemas = new Map<number, object>([
  [7, envelope(postValue())],
  [8, envelope(postValue([{ name: "mood", type: ["null", "string"], default: null }]))],
  [9, { type: "record", name: "Broken", fields: [{ name: "x", type: "no-such-type" }] }],
]);
const lookup = async (id: number) => {
  const s = schemas.get(id);
  if (!s) throw new UnknownSchema(id);
  return JSON.stringify(s);
};

/** A value as the connector's converter writes it: 0, the id (4 bytes), the Avro body. */
function framed(id: number, value: unknown) {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(id, 1);
  const type = avsc.Type.forSchema(schemas.get(id) as avsc.Schema, { wrapUnions: false, registry: { long: longType } });
  return Buffer.concat([header, type.toBuffer(value)]);
}

const row = { id: 12, author_id: 3, body: "hello", created_at: "2026-11-30T08:00:00.123456Z" };
const source = { ts_ms: 1_780_000_000_000, ts_ns: null, table: "posts" };

describe("Avro change events", () => {
  test("decode with the writer's schema into the same change as JSON would", async () => {
    const value = framed(7, { before: null, after: row, source, op: "c" });
    const avro = createAvroDecoder(lookup);
    await avro.load([value]);
    const json = JSON.stringify({ op: "c", before: null, after: row, source });
    expect(decodeChange("posts", value, avro)).toEqual(decodeChange("posts", json)!);
    expect(decodeChange("posts", value, avro)).toMatchObject({ table: "posts", op: "upsert", row: { id: "12", author_id: "3" }, sourceTs: source.ts_ms });
  });

  test("a field added by a later schema reaches the row; events of the older schema still decode", async () => {
    const avro = createAvroDecoder(lookup);
    const older = framed(7, { before: null, after: row, source, op: "c" });
    const newer = framed(8, { before: null, after: { ...row, mood: "sunny" }, source, op: "u" });
    await avro.load([older, newer]);
    expect(decodeChange("posts", newer, avro)!.row).toMatchObject({ id: "12", mood: "sunny" });
    expect(decodeChange("posts", older, avro)!.row).not.toHaveProperty("mood");
  });

  test("longs past 2^53 come as strings: Debezium's nanosecond time is kept, an id is refused rather than rounded", async () => {
    const avro = createAvroDecoder(lookup);
    const late = framed(7, { before: null, after: row, source: { ...source, ts_ns: "1780000000000123456" }, op: "c" });
    const huge = framed(7, { before: null, after: { ...row, id: "9007199254740993" }, source, op: "c" });
    await avro.load([late, huge]);
    expect((avro.decode(late) as { source: { ts_ns: unknown } }).source.ts_ns).toBe("1780000000000123456");
    expect(() => decodeChange("posts", huge, avro)).toThrow(/^bad posts row: id: /);
  });

  test("an unknown schema id, a schema avsc cannot read, a short header or a body that is not Avro is a DecodeError with the reason", async () => {
    const avro = createAvroDecoder(lookup);
    const unknown = framed(7, { before: null, after: row, source, op: "c" });
    unknown.writeUInt32BE(99, 1);
    const corrupt = Buffer.concat([framed(7, { before: null, after: row, source, op: "c" }).subarray(0, 5), Buffer.from("not avro at all")]);
    const short = Buffer.from([0, 0, 7]);
    const unreadable = Buffer.from(unknown);
    unreadable.writeUInt32BE(9, 1);
    await avro.load([unknown, corrupt, short, unreadable]);
    const reason = (value: Buffer) => {
      try {
        decodeChange("posts", value, avro);
      } catch (err) {
        expect(err).toBeInstanceOf(DecodeError);
        return (err as Error).message;
      }
      throw new Error("decoded");
    };
    expect(reason(unknown)).toBe("schema id 99 is not in the registry");
    expect(reason(corrupt)).toStartWith("not Avro of schema id 7: ");
    expect(reason(short)).toBe("Avro value of 3 bytes has no schema id");
    expect(reason(unreadable)).toStartWith("schema id 9 cannot be read: ");
    expect(() => decodeChange("posts", framed(7, { before: null, after: row, source, op: "c" }))).toThrow("an Avro value, and no schema registry to decode it with");
  });

  test("a registry outage is thrown by load, for the stage to retry; nothing is remembered from it", async () => {
    let down = true;
    const avro = createAvroDecoder(async (id) => {
      if (down) throw new RegistryUnavailable("schema registry unreachable");
      return lookup(id);
    });
    const value = framed(7, { before: null, after: row, source, op: "c" });
    await expect(avro.load([value])).rejects.toBeInstanceOf(RegistryUnavailable);
    down = false;
    await avro.load([value]);
    expect(decodeChange("posts", value, avro)!.row.id).toBe("12");
  });
});
