/**
 * The Lua scripts of the home feed cache (cache.ts, cache-pages.ts). Each runs atomically on the two keys of
 * one user's cache, KEYS[1] the sorted set and KEYS[2] the hash, which share a hash slot; a
 * rebuild's scripts also on KEYS[3], its lock, in the same slot.
 */

/**
 * Shared Lua. In the hash, an item's entry is "<write time> <json>", and a removed item's is
 * "<write time> " (a marker, while the cache lives, so that neither a rebuild's merge nor a late
 * writer brings it back). `stamp` reads the write time of an entry (nil when there is none).
 */
const stamp = `
local function stamp(entry)
  if not entry then return nil end
  return tonumber(string.sub(entry, 1, string.find(entry, ' ', 1, true) - 1))
end
`;

/**
 * Shared Lua: all or nothing under eviction. Redis may evict one of a cache's two keys and not
 * the other (both are volatile); the hash records the set's size (`__size`, kept by `resize`
 * after every change), and a cache whose set no longer has that size lost a key: `intact` then
 * drops what is left, and the cache is a miss (rebuilt from Cassandra) rather than a feed that
 * says "complete" over an empty set. `resize` also counts the changes (`__n`): with the token of
 * the rebuild that made the cache (`__inc`), that is its version, which changes with every
 * change and never repeats (a reader keeps a pulled account's newest items while it holds).
 */
const intact = `
local function intact()
  local size = redis.call('HGET', KEYS[2], '__size')
  if size and tonumber(size) ~= redis.call('ZCARD', KEYS[1]) then
    redis.call('DEL', KEYS[1], KEYS[2])
    return false
  end
  return true
end
local function resize()
  redis.call('HSET', KEYS[2], '__size', redis.call('ZCARD', KEYS[1]))
  redis.call('HINCRBY', KEYS[2], '__n', 1)
end
`;

/** Shared Lua: trims the set to ARGV max length, dropping items from the hash and marking the cache incomplete. */
const trim = `
local function trim(maxlen)
  local size = redis.call('ZCARD', KEYS[1])
  if size > maxlen then
    local drop = redis.call('ZRANGE', KEYS[1], 0, size - maxlen - 1)
    redis.call('ZREMRANGEBYRANK', KEYS[1], 0, size - maxlen - 1)
    for _, id in ipairs(drop) do redis.call('HDEL', KEYS[2], id) end
    redis.call('HSET', KEYS[2], '__complete', '0')
  end
end
`;

/** Shared Lua: whether (score, id) comes after (tailScore, tailId) in feed order, i.e. is older. */
const below = `
local function below(score, id, tailScore, tailId)
  return score < tailScore or (score == tailScore and id < tailId)
end
`;

/**
 * Shared Lua: adds the (score, id, entry) triples of ARGV from index `from` (`triples` in
 * cache-keys.ts: the entry as the hash holds it, its write time first), each only if the hash has
 * nothing for its id written at the same time or later (the later write wins, as in Cassandra;
 * between triples of one call too), and, when `tail` is given, only if it is not older than the
 * tail. In commands of up to 500 items each (one HMGET, ZADD and HSET), not three per item: a
 * rebuild's 51 items took 153 calls. The client joins each entry: joining them here made a new
 * Lua string per item, a sixth of a rebuild's script time.
 */
const merge = `${stamp}${below}
local function merge(from, tail)
  for start = from, #ARGV, 1500 do
    local last = math.min(start + 1499, #ARGV)
    local ids = {}
    for i = start, last, 3 do ids[#ids + 1] = ARGV[i + 1] end
    local stored = redis.call('HMGET', KEYS[2], unpack(ids))
    local known, order, chosen = {}, {}, {}
    for j, id in ipairs(ids) do
      if known[id] == nil then known[id] = stamp(stored[j]) or false end
    end
    for i = start, last, 3 do
      local score, id, ts = tonumber(ARGV[i]), ARGV[i + 1], stamp(ARGV[i + 2])
      local k = known[id]
      if (not k or k < ts) and (tail == nil or not below(score, id, tail[1], tail[2])) then
        known[id] = ts
        if not chosen[id] then order[#order + 1] = id end
        chosen[id] = i
      end
    end
    if #order > 0 then
      local zadd, hset = {}, {}
      for _, id in ipairs(order) do
        local i = chosen[id]
        zadd[#zadd + 1] = ARGV[i]
        zadd[#zadd + 1] = id
        hset[#hset + 1] = id
        hset[#hset + 1] = ARGV[i + 2]
      end
      redis.call('ZADD', KEYS[1], unpack(zadd))
      redis.call('HSET', KEYS[2], unpack(hset))
    end
  end
end
`;

/**
 * Shared Lua: the pulled accounts a home feed merges in at read time (hybrid fan-out). Each is a
 * hash entry '>' .. account id, "<write time> 1" while pulled in and "<write time> " (a marker)
 * once not, the later write winning (a tie to the removal), as for items; `__srcs` lists the
 * accounts pulled in now, comma-separated, for the page to return in the same reply.
 */
const sources = `
local function source(id, ts, present)
  local known = stamp(redis.call('HGET', KEYS[2], '>' .. id))
  if known ~= nil and (known > ts or (known == ts and present)) then return end
  redis.call('HSET', KEYS[2], '>' .. id, ts .. ' ' .. (present and '1' or ''))
  local kept = {}
  for other in string.gmatch(redis.call('HGET', KEYS[2], '__srcs') or '', '[^,]+') do
    if other ~= id then kept[#kept + 1] = other end
  end
  if present then kept[#kept + 1] = id end
  redis.call('HSET', KEYS[2], '__srcs', table.concat(kept, ','))
end
`;

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
