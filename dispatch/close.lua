--[[
close.lua: a run's window is over. Its calls still in the backlog leave it, counted carried or stale (the
run's on_expiry); calls in flight settle as they end (a deferral then counts carried or stale too).

KEYS[1]  run hash     KEYS[2]  the provider's backlog     KEYS[3]  set of open runs
ARGV[1]  the run id

Returns {complete, key, key, ...}: complete = "1" when nothing is pending any more (the caller fires the
callback once), then the keys taken out of the backlog (the caller carries them or marks them stale).
--]]
if redis.call('HGET', KEYS[1], 'closed') == '1' then return {'0'} end
redis.call('HSET', KEYS[1], 'closed', '1')
local lo, hi, expiry = unpack(redis.call('HMGET', KEYS[1], 'lo', 'hi', 'on_expiry'))
local out = {'0'}
local members = redis.call('ZRANGEBYSCORE', KEYS[2], lo, hi)
for _, m in ipairs(members) do
  out[#out + 1] = string.match(m, '|([^|]*)$')
  redis.call('ZREM', KEYS[2], m)
end
if #members > 0 then
  redis.call('HINCRBY', KEYS[1], (expiry == 'carry') and 'carried' or 'stale', #members)
end
local h = redis.call('HMGET', KEYS[1], 'admitted', 'made', 'carried', 'stale')
local pending = tonumber(h[1]) - tonumber(h[2]) - tonumber(h[3]) - tonumber(h[4])
if pending <= 0 and redis.call('HSETNX', KEYS[1], 'done', '1') == 1 then
  out[1] = '1'
  redis.call('SREM', KEYS[3], ARGV[1])
end
return out
