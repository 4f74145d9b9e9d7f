--[[
block.lua: block a provider for every worker until an instant (provider feedback or an operator pause).
A block only ever extends: an earlier `until` than the current one leaves the current block (and its reason)
in place; `unblock` (a DEL of the block hash) is the only way to shorten it.

KEYS[1]  block hash {until = epoch seconds or "inf", reason = text, since = epoch seconds}
KEYS[2]  stats hash (field `violations`)
ARGV[1]  until: epoch seconds on the Redis clock, or "inf" (until unblocked)
ARGV[2]  reason (free text, shown in stats)
ARGV[3]  "1" to count a violation (the provider pushed back), "0" for an operator block

Returns {until, reason} of the block in force after the call.
--]]

if redis.replicate_commands then redis.replicate_commands() end

local function instant(x)
  if x == 'inf' then return math.huge end
  return tonumber(x)
end

local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local current = redis.call('HGET', KEYS[1], 'until')
local new = instant(ARGV[1])
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[2], 'violations', 1) end
if current and instant(current) >= new and instant(current) > now then
  return {current, redis.call('HGET', KEYS[1], 'reason') or ''}
end
redis.call('HSET', KEYS[1], 'until', ARGV[1], 'reason', ARGV[2], 'since', string.format('%.6f', now))
if new == math.huge then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIREAT', KEYS[1], string.format('%d', math.ceil(new * 1000) + 1000))
end
return {ARGV[1], ARGV[2]}
