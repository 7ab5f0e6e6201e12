/**
 * The Lua scripts of the home feed cache (cache.ts, cache-pages.ts). Each runs atomically on the two keys of
 * one user's cache, KEYS[1] the sorted set and KEYS[2] the hash, which share a hash slot; a
 * rebuild's scripts also on KEYS[3], its lock, in the same slot.
 */
import { intact, merge, sources, stamp, trim } from "./cache-lua";

export const scripts = {
  /**
   * ARGV: max length, then triples. Only where the cache exists. A cache that is not complete
   * holds an unbroken run of the newest items down to its tail, and readers go on from
   * Cassandra after the tail: an item older than the tail is left out (it is in Cassandra, where
   * the reader will find it in its place), or the run would have a gap before it.
   */
  feedAdd: `${trim}${merge}${intact}
if redis.call('EXISTS', KEYS[2]) == 0 or not intact() then return 0 end
local tail = nil
if redis.call('HGET', KEYS[2], '__complete') ~= '1' then
  local last = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if last[1] then tail = { tonumber(last[2]), last[1] } end
end
merge(2, tail)
trim(tonumber(ARGV[1]))
resize()
return 1
`,
  /** ARGV: write time, then activity ids. An item written later than the removal stays. */
  feedRemove: `${stamp}${intact}
if redis.call('EXISTS', KEYS[2]) == 0 or not intact() then return 0 end
local ts = tonumber(ARGV[1])
for i = 2, #ARGV do
  local known = stamp(redis.call('HGET', KEYS[2], ARGV[i]))
  if known == nil or known <= ts then
    redis.call('ZREM', KEYS[1], ARGV[i])
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[1] .. ' ')
  end
end
resize()
return 1
`,
  /** ARGV: write time, then (account id, 1 to pull it in | 0 not) pairs. Only where the cache exists. */
  feedSources: `${stamp}${sources}${intact}
if redis.call('EXISTS', KEYS[2]) == 0 or not intact() then return 0 end
local ts = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do source(ARGV[i], ts, ARGV[i + 1] == '1') end
return 1
`,
  /**
   * ARGV: ttl, token, lock ms. Takes the rebuild's lock (KEYS[3]) for this token, and returns 0,
   * changing nothing, when another rebuild holds it. Then empties the cache but for its removal
   * markers, and marks it as being built by this token: a rebuild started earlier can no longer
   * finish.
   */
  feedRebuildStart: `
if not redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3], 'NX') then return 0 end
local entries = redis.call('HGETALL', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2])
for i = 1, #entries, 2 do
  local entry = entries[i + 1]
  if string.sub(entry, -1) == ' ' then redis.call('HSET', KEYS[2], entries[i], entry) end
end
redis.call('HSET', KEYS[2], '__state', 'building', '__build', ARGV[2], '__size', 0, '__inc', ARGV[2], '__n', 0)
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
`,
  /**
   * ARGV: max length, ttl, complete (1|0), token, the number k of pulled accounts, k (account id,
   * write time) pairs, then triples. Merges what was read from Cassandra, where a writer has not
   * written later. When the read was not the whole feed, whatever a writer added below its last
   * item is dropped: the cache must end in an unbroken run (see feedAdd). Returns 0, merging
   * nothing, when the cache is not being built by this token. Either way the token's lock
   * (KEYS[3]) is released.
   */
  feedRebuildFinish: `${trim}${merge}${sources}${intact}
if redis.call('GET', KEYS[3]) == ARGV[4] then redis.call('DEL', KEYS[3]) end
if redis.call('HGET', KEYS[2], '__state') ~= 'building' or redis.call('HGET', KEYS[2], '__build') ~= ARGV[4] or not intact() then return 0 end
local first = 6 + 2 * tonumber(ARGV[5])
for i = 6, first - 1, 2 do source(ARGV[i], tonumber(ARGV[i + 1]), true) end
merge(first, nil)
if ARGV[3] == '0' and #ARGV >= first + 2 then
  local lastScore, lastId = tonumber(ARGV[#ARGV - 2]), ARGV[#ARGV - 1]
  local candidates = redis.call('ZRANGE', KEYS[1], '-inf', lastScore, 'BYSCORE', 'WITHSCORES')
  for j = 1, #candidates, 2 do
    local id = candidates[j]
    if below(tonumber(candidates[j + 1]), id, lastScore, lastId) then
      redis.call('ZREM', KEYS[1], id)
      redis.call('HDEL', KEYS[2], id)
    end
  end
end
redis.call('HSET', KEYS[2], '__state', 'ready', '__complete', ARGV[3])
redis.call('HDEL', KEYS[2], '__build')
trim(tonumber(ARGV[1]))
resize()
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
`,
  /**
   * ARGV: ttl, n, cursor score ('' for the first page), cursor id. Returns nil on a miss, else
   * { complete, entries, pulled accounts, version }: the k (≤ n) items after the cursor, newest
   * first, as their entries joined by newlines (one string for the client to decode, strip of
   * write times and parse at once: itemsOf in cache-pages.ts; not 2k replies), the accounts the
   * page merges in (`__srcs`, comma-separated), and the cache's version (see `resize`).
   */
  feedPage: `${intact}
if redis.call('HGET', KEYS[2], '__state') ~= 'ready' or not intact() then return nil end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
local n = tonumber(ARGV[2])
local ids = {}
if ARGV[3] == '' then
  ids = redis.call('ZRANGE', KEYS[1], '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, n)
else
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], ARGV[3], ARGV[3], 'BYSCORE', 'REV')) do
    if #ids < n and id < ARGV[4] then ids[#ids + 1] = id end
  end
  if #ids < n then
    for _, id in ipairs(redis.call('ZRANGE', KEYS[1], '(' .. ARGV[3], '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, n - #ids)) do
      ids[#ids + 1] = id
    end
  end
end
local complete = redis.call('HGET', KEYS[2], '__complete') == '1' and 1 or 0
-- The entries as stored, "<write time> <json>", one per line (JSON.stringify never writes a raw
-- newline): the client strips the write times. Cutting each entry here made a new Lua string per
-- item, which took a third of the script's time.
local entries = {}
if #ids > 0 then
  for _, entry in ipairs(redis.call('HMGET', KEYS[2], unpack(ids))) do
    if entry then entries[#entries + 1] = entry end
  end
end
local version = redis.call('HMGET', KEYS[2], '__inc', '__n')
return { complete, table.concat(entries, '\\n'), redis.call('HGET', KEYS[2], '__srcs') or '', (version[1] or '') .. ':' .. (version[2] or '') }
`,
};

/** The scripts that also take the rebuild's lock, as a third key. */
const lockingScripts = new Set<keyof typeof scripts>(["feedRebuildStart", "feedRebuildFinish"]);

/** The scripts as ioredis client options take them (`createRedis(config, { scripts: cacheScripts })`). */
export const cacheScripts = Object.fromEntries(
  Object.entries(scripts).map(([name, lua]) => [name, { lua, numberOfKeys: lockingScripts.has(name as keyof typeof scripts) ? 3 : 2 }]),
);

/** Deletes a lock only if it still holds the caller's token. KEYS[1] the lock, ARGV[1] the token. */
export const unlockLua = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
