--[[
restore.lua: put back a provider's quota state after Redis lost it, and mark it restored (the field
`ready` of its state hash, which acquire.lua requires of a limiter with a journal). The given bookings
(ratelimits/restore.py) are merged with whatever Redis still holds, never replacing a tighter state:
a rolling window keeps, place by place from its newest booking back, the later of the two instants; a
calendar period keeps the larger count; `last` keeps the later instant.

KEYS[1]    state hash (fields last, until, reason, since, ready)
KEYS[1+i]  window i of the policy (i = 1..n), as in acquire.lua

ARGV[1]    the mark to store in `ready` (the Redis server's run id at the restore)
ARGV[2]    "1": merge and mark even when already marked (Redis restarted with its data, which may lack
           the last second of bookings); "0": do nothing when already marked
ARGV[3]    `last`: the latest booking restored (epoch seconds), "" for none
ARGV[4]    n: number of windows
then per window, in order:
           "r", ttl (ms), limit, m, then m instants (ascending)   -- rolling
           "c", ttl (ms), m, then m pairs: period start, units     -- calendar

Returns 1 when it restored, 0 when the state was already marked (and ARGV[2] is "0").
--]]
if ARGV[2] ~= '1' and redis.call('HEXISTS', KEYS[1], 'ready') == 1 then return 0 end

-- expire `key` in `ttl` ms, or later if it was to live longer (`left`: its PTTL before the merge)
local function expire(key, ttl, left)
  redis.call('PEXPIRE', key, math.max(ttl, left))
end

local pos = 5
for i = 1, tonumber(ARGV[4]) do
  local key = KEYS[1 + i]
  local kind, ttl = ARGV[pos], tonumber(ARGV[pos + 1])
  if kind == 'r' then
    local limit, m = tonumber(ARGV[pos + 2]), tonumber(ARGV[pos + 3])
    pos = pos + 4
    local have = redis.call('LRANGE', key, 0, -1)
    local left = redis.call('PTTL', key)
    local length = math.min(limit, math.max(#have, m))
    if length > 0 then
      local merged = {}
      for k = length, 1, -1 do -- k-th newest booking
        local a = have[#have - k + 1]
        local b = ARGV[pos + m - k]
        a = a and tonumber(a) or -math.huge
        b = (k <= m) and tonumber(b) or -math.huge
        merged[#merged + 1] = string.format('%.6f', math.max(a, b))
      end
      redis.call('DEL', key)
      redis.call('RPUSH', key, unpack(merged))
      expire(key, ttl, left)
    end
    pos = pos + m
  else
    local m = tonumber(ARGV[pos + 2])
    local left = redis.call('PTTL', key)
    pos = pos + 3
    for j = 1, m do
      local field, units = ARGV[pos], tonumber(ARGV[pos + 1])
      if units > tonumber(redis.call('HGET', key, field) or '0') then redis.call('HSET', key, field, units) end
      pos = pos + 2
    end
    if m > 0 then expire(key, ttl, left) end
  end
end

if ARGV[3] ~= '' then
  local last = redis.call('HGET', KEYS[1], 'last')
  if not last or tonumber(last) < tonumber(ARGV[3]) then redis.call('HSET', KEYS[1], 'last', ARGV[3]) end
end
redis.call('HSET', KEYS[1], 'ready', ARGV[1])
return 1
