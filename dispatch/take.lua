--[[
take.lua: release the first `n` calls of a provider's backlog: each moves to the in-flight set under a
fresh member "<run>|<key>|<score>|<token>" (the score keeps its place in line should it come back).

KEYS[1]  the provider's backlog (sorted set, see submit.lua)
KEYS[2]  the provider's in-flight set: member as above, score = release instant (epoch s, Redis clock)
ARGV[1]  n    ARGV[2]  token prefix (unique per call of this script)

Returns the in-flight members, in backlog order.
--]]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local items = redis.call('ZPOPMIN', KEYS[1], tonumber(ARGV[1]))
local out = {}
for i = 1, #items, 2 do
  local member = items[i] .. '|' .. items[i + 1] .. '|' .. ARGV[2] .. '.' .. ((i + 1) / 2)
  redis.call('ZADD', KEYS[2], string.format('%.6f', now), member)
  out[#out + 1] = member
end
return out
