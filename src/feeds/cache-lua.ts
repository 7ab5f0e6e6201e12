/**
 * The Lua the cache's scripts (cache-scripts.ts) are built from: functions each script that needs
 * them includes, on one user's cache keys, KEYS[1] the sorted set and KEYS[2] the hash.
 */

/**
 * Shared Lua. In the hash, an item's entry is "<write time> <json>", and a removed item's is
 * "<write time> " (a marker, while the cache lives, so that neither a rebuild's merge nor a late
 * writer brings it back). `stamp` reads the write time of an entry (nil when there is none).
 */
export const stamp = `
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
export const intact = `
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
export const trim = `
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
export const below = `
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
export const merge = `${stamp}${below}
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
export const sources = `
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
