--[[
block.lua: block a provider for every worker until an instant (provider feedback or an operator pause).
A block only ever extends: an `until` not later than the one in force leaves it (and its reason) in place;
`Limiter.unblock` (HDEL of the block fields) is the only way to shorten it. acquire.lua reads `until`.

KEYS[1]  state hash of the provider: fields until (epoch seconds or "inf"), reason, since (and `last`,
         owned by acquire.lua)
KEYS[2]  stats hash (field `violations`)
ARGV[1]  until: epoch seconds on the Redis clock, or "inf" (until unblocked)
ARGV[2]  reason (free text, shown in stats)
ARGV[3]  "1" to count a violation (the provider pushed back), "0" for an operator block

Returns {until, reason} of the block in force after the call.
--]]

local function instant(x)
  if x == 'inf' then return math.huge end
  return tonumber(x)
end

local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[2], 'violations', 1) end
local current = redis.call('HMGET', KEYS[1], 'until', 'reason')
if current[1] and instant(current[1]) >= instant(ARGV[1]) and instant(current[1]) > now then
  return {current[1], current[2] or ''}
end
redis.call('HSET', KEYS[1], 'until', ARGV[1], 'reason', ARGV[2], 'since', string.format('%.6f', now))
return {ARGV[1], ARGV[2]}
