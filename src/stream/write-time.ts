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
 * Offset 0 maps to 2^52, above any wall-clock timestamp in microseconds until the year 2112, so
 * a stream write also wins over anything written with a clock (a test's fixture, a row from
 * before this scheme).
 */
export const writeTimeBase = 2 ** 52;

/** The write time of the event at `offset` (a Kafka offset, as kafkajs gives it: a decimal string). */
export function writeTimeOf(offset: string | number): number {
  const n = Number(offset);
  if (!Number.isSafeInteger(n) || n < 0 || n >= writeTimeBase) throw new RangeError(`offset ${offset} has no write time`);
  return writeTimeBase + n;
}
