--[[
submit.lua: admit a run's calls into its provider's backlog, once. A second submit of the same run id is
a no-op (returns -1), so a planner task that runs twice admits nothing twice.

KEYS[1]  run hash (the ledger: spec, counters, score range, deadline, state)
KEYS[2]  the provider's backlog: sorted set, member "<run>|<key>", score priority * 1e12 + sequence
KEYS[3]  the global sequence counter (admission order)
KEYS[4]  set of open runs
KEYS[5]  set of the runs of the run's day

ARGV[1]  run id            ARGV[2]  priority (0 goes first)   ARGV[3]  spec (JSON)
ARGV[4]  planned           ARGV[5]  carried at planning        ARGV[6]  deadline (epoch s, "" none)
ARGV[7]  on_expiry ("carry" or "stale")
ARGV[8]  "1": keep the run's keys (KEYS[1]..":keys") and those answered ok (KEYS[1]..":ok"), else "0"
ARGV[9..] the keys (symbols, sessions, "-" for a call without one), in priority order

Returns the number of calls admitted, or -1 when the run already existed.
--]]
if redis.call('HSETNX', KEYS[1], 'spec', ARGV[3]) == 0 then return -1 end
local n = #ARGV - 8
local last = redis.call('INCRBY', KEYS[3], math.max(n, 1))
local first = last - math.max(n, 1) + 1
local base = tonumber(ARGV[2]) * 1000000000000
local args = {}
for i = 1, n do
  args[#args + 1] = string.format('%.0f', base + first + i - 1)
  args[#args + 1] = ARGV[1] .. '|' .. ARGV[8 + i]
  if #args >= 1000 or i == n then
    redis.call('ZADD', KEYS[2], unpack(args))
    args = {}
  end
end
if ARGV[8] == '1' then
  for i = 1, n, 500 do
    redis.call('SADD', KEYS[1] .. ':keys', unpack(ARGV, 8 + i, math.min(8 + i + 499, 8 + n)))
  end
end
local clock = redis.call('TIME')
redis.call('HSET', KEYS[1], 'planned', ARGV[4], 'admitted', n, 'carried_plan', ARGV[5], 'made', 0,
  'deferred', 0, 'deferred_made', 0, 'carried', 0, 'stale', 0,
  'lo', string.format('%.0f', base + first), 'hi', string.format('%.0f', base + first + n - 1),
  'deadline', ARGV[6], 'on_expiry', ARGV[7], 'track', ARGV[8], 'created', clock[1])
redis.call('SADD', KEYS[5], ARGV[1])
if n == 0 then
  redis.call('HSET', KEYS[1], 'done', '1')
else
  redis.call('SADD', KEYS[4], ARGV[1])
end
return n
