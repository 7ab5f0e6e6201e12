import type { RedisClient } from "../clients/redis";
import { type ObjectRef, type PostObject, type UserObject, refKey } from "../model/feed";
import { outageOf } from "../clients/outage";

/**
 * The objects items are about, as a page renders them: a post (its author and the start of its
 * text) and a user (handle and display name). Each belongs to one user's stream, which writes it:
 * a post to its author's, a user to their own. Items in other users' feeds refer to it by id and
 * pages join it in at read time (src/read/enrich.ts), so a renamed user or an edited post is
 * rendered anew everywhere without rewriting a single feed row.
 *
 * Cassandra holds every object (the feed store's `posts` and `users` tables); Redis caches them,
 * one key each, `obj:<type>:<id>` = "<write time>|<JSON>", or "<write time>|" for one that is
 * gone. Every put carries a write time and the later one wins (the `objectPut` script), the same
 * rule as in Cassandra: the stream's puts carry their event's write time, and a fill after a miss
 * carries the write time Cassandra returned with the row (0 when there is no row), so a fill that
 * read before a newer write can never overwrite it. Losing Redis loses nothing: misses refill.
 */

type ObjectOf<R extends ObjectRef> = R["type"] extends "post" ? PostObject : UserObject;

/** An object as Cassandra returned it, with its write time (0 and null when there is no row). */
export type Loaded = { value: PostObject | UserObject | null; ts: number };

/**
 * KEYS[1] an object's key; ARGV: write time, value (JSON, or empty for gone), expiry (s). Writes
 * unless the key holds a later write time. Returns 1 when it wrote.
 */
const objectPut = `
local entry = redis.call('GET', KEYS[1])
if entry and tonumber(string.sub(entry, 1, string.find(entry, '|', 1, true) - 1)) > tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', ARGV[3])
return 1
`;

/** The scripts as ioredis client options take them (src/services.ts). */
export const objectScripts = { objectPut: { lua: objectPut, numberOfKeys: 1 } };

export const objectKey = (ref: ObjectRef) => `obj:${refKey(ref)}`;

export function createObjectCache(deps: {
  redis: RedisClient;
  /** Reads objects from Cassandra (the feed store's `objects`). */
  load: (refs: ObjectRef[]) => Promise<Loaded[]>;
  ttlSeconds: number;
}) {
  const { redis, load, ttlSeconds } = deps;
  const put = (ref: ObjectRef, value: PostObject | UserObject | null, ts: number) =>
    (redis as unknown as { objectPut(key: string, ts: number, value: string, ttl: number): Promise<number> }).objectPut(
      objectKey(ref),
      ts,
      value ? JSON.stringify(value) : "",
      ttlSeconds,
    );
  /** Look-ups in flight in this process, by key: a live item sent to many streams at once is fetched once. */
  const inflight = new Map<string, Promise<PostObject | UserObject | null>>();

  async function fetchMissing(refs: ObjectRef[]) {
    const loaded = await load(refs);
    // A fill that fails costs the next reader a read of Cassandra, nothing more.
    await Promise.all(refs.map((ref, i) => put(ref, loaded[i]!.value, loaded[i]!.ts))).catch(() => {});
    return loaded.map((l) => l.value);
  }

  async function fetch(refs: ObjectRef[]) {
    // One write (auto-pipelined). Without Redis, every object is read from Cassandra.
    const entries = await Promise.all(refs.map((ref) => redis.get(objectKey(ref)))).catch((err) => {
      if (outageOf(err) !== "redis") throw err;
      return refs.map(() => null);
    });
    const values: (PostObject | UserObject | null)[] = entries.map((e) => (e === null ? null : parse(e)));
    const missed = refs.flatMap((ref, i) => (entries[i] === null ? [i] : []));
    if (missed.length > 0) {
      const found = await fetchMissing(missed.map((i) => refs[i]!));
      missed.forEach((at, j) => (values[at] = found[j]!));
    }
    return values;
  }

  return {
    /** Stream: the object as of write time `ts` (null: it is gone), into the cache. Cassandra is written first, by the caller. */
    put,

    /** Read: the objects by `refKey`, from Redis, and from Cassandra for those Redis lacks; null for one that does not exist (yet). */
    async get<R extends ObjectRef>(refs: R[]): Promise<Map<string, ObjectOf<R> | null>> {
      const out = new Map<string, ObjectOf<R> | null>();
      const waiting: Promise<void>[] = [];
      const wanted: ObjectRef[] = [];
      const seen = new Set<string>();
      for (const ref of refs) {
        const key = refKey(ref);
        if (seen.has(key)) continue;
        seen.add(key);
        const running = inflight.get(key);
        if (running) waiting.push(running.then((v) => void out.set(key, v as ObjectOf<R> | null)));
        else wanted.push(ref);
      }
      if (wanted.length > 0) {
        const all = fetch(wanted);
        wanted.forEach((ref, i) => {
          const key = refKey(ref);
          const one = all.then((values) => values[i]!);
          inflight.set(key, one);
          waiting.push(one.then((v) => void out.set(key, v as ObjectOf<R> | null)));
        });
        all.catch(() => {}).finally(() => wanted.forEach((ref) => inflight.delete(refKey(ref))));
      }
      await Promise.all(waiting);
      return out;
    },
  };
}

export type ObjectCache = ReturnType<typeof createObjectCache>;

/** An entry's value: the JSON after the write time, or null for an object that is gone. */
function parse(entry: string): PostObject | UserObject | null {
  const json = entry.slice(entry.indexOf("|") + 1);
  return json ? (JSON.parse(json) as PostObject | UserObject) : null;
}
