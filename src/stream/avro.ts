import avro from "avsc";
import { UnknownSchema } from "../clients/registry";
import { DecodeError } from "./decode-error";

/**
 * Avro in the Confluent wire format, as the Debezium connector's converters write it: a zero
 * magic byte, the writer schema's id in the registry (4 bytes, big-endian), then the Avro binary
 * body. Each message is decoded with its own writer's schema, so a column added to a table adds a
 * field to the events written after it and changes nothing for the ones before.
 *
 * A batch's unknown schema ids are fetched first (`load`, which throws only on an outage); the
 * decode itself is then synchronous and throws DecodeError for anything undecodable, for the
 * dead-letter topic.
 */

const magicByte = 0;
const headerBytes = 5;

const minSafe = BigInt(Number.MIN_SAFE_INTEGER);
const maxSafe = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Avro longs as numbers while exact, and as decimal strings beyond (Debezium's `ts_ns`): an id
 * past 2^53 then reaches the row schema as a string and is refused there, never rounded, and any
 * value stays JSON for the events topic.
 */
export const longType = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => {
    const n = buf.readBigInt64LE();
    return n >= minSafe && n <= maxSafe ? Number(n) : n.toString();
  },
  toBuffer: (n: number | string) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(n));
    return buf;
  },
  fromJSON: (n: number | string) => n,
  toJSON: (n: number | string) => Number(n),
  isValid: (n: unknown) => (typeof n === "number" && Number.isInteger(n)) || (typeof n === "string" && /^-?\d+$/.test(n)),
  compare: (a: number | string, b: number | string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0),
});

/** The schema id an Avro value names, or undefined when it is too short to name one. */
const schemaIdOf = (value: Buffer) => (value.length >= headerBytes ? value.readUInt32BE(1) : undefined);

/** True for a value in the Confluent wire format (JSON text never starts with a zero byte). */
export const isAvro = (value: Buffer) => value.length > 0 && value[0] === magicByte;

/** `lookup`: the registry's schema text of an id (src/clients/registry.ts). */
export function createAvroDecoder(lookup: (id: number) => Promise<string>) {
  const types = new Map<number, avro.Type>();
  /** Ids that cannot be decoded with, and why: unknown to the registry, or a schema avsc cannot read. Asked again at the next batch that names them. */
  const unusable = new Map<number, string>();

  async function learn(id: number) {
    let schema: string;
    try {
      schema = await lookup(id);
    } catch (err) {
      if (!(err instanceof UnknownSchema)) throw err; // an outage: the caller retries
      unusable.set(id, err.message);
      return;
    }
    try {
      types.set(id, avro.Type.forSchema(JSON.parse(schema), { registry: { long: longType }, wrapUnions: "auto", omitRecordMethods: true }));
      unusable.delete(id);
    } catch (err) {
      unusable.set(id, `schema id ${id} cannot be read: ${(err as Error).message}`);
    }
  }

  return {
    /** Fetches the writer schemas these values name that are not known yet. Throws only on an outage. */
    async load(values: (Buffer | null)[]) {
      const ids = new Set<number>();
      for (const v of values) {
        const id = v && isAvro(v) ? schemaIdOf(v) : undefined;
        if (id !== undefined && !types.has(id)) ids.add(id);
      }
      await Promise.all([...ids].map(learn));
    },
    /** The value decoded with its writer's schema (loaded first). Throws DecodeError. */
    decode(value: Buffer): unknown {
      const id = schemaIdOf(value);
      if (id === undefined) throw new DecodeError(`Avro value of ${value.length} bytes has no schema id`);
      const type = types.get(id);
      if (!type) throw new DecodeError(unusable.get(id) ?? `schema id ${id} was not loaded`);
      try {
        return type.fromBuffer(value.subarray(headerBytes));
      } catch (err) {
        throw new DecodeError(`not Avro of schema id ${id}: ${(err as Error).message}`);
      }
    },
  };
}

export type AvroDecoder = ReturnType<typeof createAvroDecoder>;
