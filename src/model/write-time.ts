/**
 * The write timestamp (Cassandra's `USING TIMESTAMP`, in the same units) of every write a feed
 * worker makes for one event: derived from the event's offset in its partition of the events
 * topic, never from a clock. Every row the workers write is decided by one user's stream, and a
 * user's stream is one partition, so on any row the later event's write wins, whatever the
 * timing: a member that lost its partition and wakes up with an old event in hand writes with an
 * old timestamp, and its writes lose to what the partition's new owner has applied since. A
 * replay writes what it wrote before, with the same timestamps. See docs/stream.md, "Fenced
 * writes".
 *
 * Each offset owns `generations` consecutive timestamps. An event writes at the first; a
 * completion (src/fanout/complete.ts) writes a row that the upkeep's trim deleted back at a later
 * one of the same offset: later than the trim's delete, and still earlier than any write of a
 * later event, so a removal always wins over it.
 *
 * Offset 0 maps to 2^52, above any wall-clock timestamp in microseconds until the year 2112, so
 * a stream write also wins over anything written with a clock (a test's fixture, a row from
 * before this scheme).
 */
export const writeTimeBase = 2 ** 52;

/** Timestamps per offset: generation 0 is the event's own write, 1…1023 rewrites of what it wrote. */
export const generations = 1024;

/** Offsets up to this (2^42, 4.4 trillion events per partition) have write times that are exact numbers. */
const maxOffset = 2 ** 42;

/** The write time of the event at `offset` (a Kafka offset, as kafkajs gives it: a decimal string). */
export function writeTimeOf(offset: string | number): number {
  const n = Number(offset);
  if (!Number.isSafeInteger(n) || n < 0 || n >= maxOffset) throw new RangeError(`offset ${offset} has no write time`);
  return writeTimeBase + n * generations;
}

/** The generation of a write time: 0 for an event's own write, more for a rewrite. */
export const generationOf = (ts: number) => (ts < writeTimeBase ? 0 : (ts - writeTimeBase) % generations);

/**
 * The write time of a rewrite at generation `generation` of what was written at `ts`: the same
 * offset, capped at its last generation (a row rewritten a thousand times keeps its last rewrite).
 */
export const rewriteTime = (ts: number, generation: number) => ts - generationOf(ts) + Math.min(Math.max(generation, 0), generations - 1);
