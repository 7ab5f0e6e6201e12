/**
 * The Lua of live subscriptions (live.ts). `claimConnection` counts a user's open streams across
 * every API process: KEYS[1] is the user's sorted set of connection ids scored by expiry (ms);
 * ARGV: now, this connection's new expiry, its id, the most a user may hold. Expired entries (a
 * process that died) are dropped first; a connection already counted is refreshed whatever the
 * count. Returns 1 when the connection holds a place, 0 when the user is at the limit.
 */
export const claimConnection = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if not redis.call('ZSCORE', KEYS[1], ARGV[3]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
`;
