--[[
settle.lua: the one end of a released call. Exactly one settle counts per release: a second one (a
redelivered message, a release already reclaimed) finds its member gone and changes nothing.

KEYS[1]  the provider's in-flight set      KEYS[2]  the provider's backlog      KEYS[3]  set of open runs
ARGV[1]  the in-flight member "<run>|<key>|<score>|<token>"
ARGV[2]  "made" (the call was made, or definitively answered without one), "deferred" (no call: back to
         its place in line), "reclaimed" (the same, for a release presumed lost), "failed" (the task broke:
         counted stale)
ARGV[3]  the call's outcome (ok, not_found, throttled, ...), counted per run as "o:<outcome>"
ARGV[4]  the run hash key prefix ("<prefix>:run:")
ARGV[5]  "reclaimed" only: the most times a key may be lost in one run ("0": no cap). Each loss is counted
         in the run hash ("l:<key>"); the one that reaches the cap settles the key stale ("given_up")
         instead of putting it back in line, so a call whose task keeps dying is not re-driven for ever.

Returns {what, complete, lost, given_up}: what = "duplicate" | "made" | "requeued" | "carried" | "stale";
complete = "1" when this settle left the run with nothing pending (the caller fires its callback once);
lost = times the key has been lost in this run; given_up = "1" when this settle gave the key up.
--]]
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return {'duplicate', '0', '0', '0'} end
local run_id, key, score = string.match(ARGV[1], '^(.*)|([^|]*)|([^|]*)|[^|]*$')
local run = ARGV[4] .. run_id
local what
local lost, given_up = 0, '0'
if ARGV[2] == 'reclaimed' then lost = redis.call('HINCRBY', run, 'l:' .. key, 1) end
local cap = tonumber(ARGV[5] or '0') or 0
if ARGV[2] == 'made' then
  redis.call('HINCRBY', run, 'made', 1)
  if redis.call('HDEL', run, 't:' .. key) == 1 then redis.call('HINCRBY', run, 'deferred_made', 1) end
  redis.call('HINCRBY', run, 'o:' .. ARGV[3], 1)
  if ARGV[3] == 'ok' and redis.call('HGET', run, 'track') == '1' then
    redis.call('SADD', run .. ':ok', key)
  end
  what = 'made'
elseif ARGV[2] == 'failed' then
  redis.call('HINCRBY', run, 'stale', 1)
  redis.call('HINCRBY', run, 'o:failed', 1)
  what = 'stale'
elseif cap > 0 and lost >= cap then
  -- lost too often: never released again, stale with that reason
  redis.call('HINCRBY', run, 'stale', 1)
  redis.call('HINCRBY', run, 'given_up', 1)
  what, given_up = 'stale', '1'
elseif redis.call('HGET', run, 'closed') == '1' then
  -- its window is over: carried to the next run or stale, as the run says
  local expiry = redis.call('HGET', run, 'on_expiry')
  what = (expiry == 'carry') and 'carried' or 'stale'
  redis.call('HINCRBY', run, what, 1)
else
  redis.call('ZADD', KEYS[2], score, run_id .. '|' .. key)
  redis.call('HINCRBY', run, (ARGV[2] == 'reclaimed') and 'reclaimed' or 'deferred', 1)
  redis.call('HSET', run, 't:' .. key, '1')
  what = 'requeued'
end
local h = redis.call('HMGET', run, 'admitted', 'made', 'carried', 'stale')
local pending = tonumber(h[1]) - tonumber(h[2]) - tonumber(h[3]) - tonumber(h[4])
if pending <= 0 and redis.call('HSETNX', run, 'done', '1') == 1 then
  redis.call('SREM', KEYS[3], run_id)
  return {what, '1', tostring(lost), given_up}
end
return {what, '0', tostring(lost), given_up}
