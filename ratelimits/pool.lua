--[[
pool.lua: leases of a concurrency pool, held in one sorted set (member = lease token, score = expiry in
epoch seconds on the Redis clock). Expired leases are reclaimed atomically before every decision, so a
killed holder's slot comes back when its lease runs out.

KEYS[1]  the pool's sorted set
ARGV[1]  operation: "acquire", "renew" or "count"
ARGV[2]  lease token (acquire, renew)
ARGV[3]  pool size (acquire)
ARGV[4]  lease length in seconds (acquire, renew)

acquire -> {"1", expiry, now} when the lease was taken (or renewed: the token already held one),
           {"0", earliest expiry of a held lease, now} when the pool is full
renew   -> {"1", expiry, now}, or {"0", "", now} when the lease had expired or was released
count   -> {"1", live leases, now}
--]]

local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local key = KEYS[1]
local op = ARGV[1]
local fnow = string.format('%.6f', now)

if op == 'count' then
  return {'1', tostring(redis.call('ZCOUNT', key, '(' .. fnow, '+inf')), fnow}
end

redis.call('ZREMRANGEBYSCORE', key, '-inf', fnow)
local lease = tonumber(ARGV[4])
local expiry = string.format('%.6f', now + lease)
local held = redis.call('ZSCORE', key, ARGV[2])

if op == 'renew' then
  if not held then return {'0', '', fnow} end
elseif not held and redis.call('ZCARD', key) >= tonumber(ARGV[3]) then
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {'0', first[2], fnow}
end
redis.call('ZADD', key, expiry, ARGV[2])
local ttl = math.ceil(lease * 1000) + 60000
if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
return {'1', expiry, fnow}
