--[[
acquire.lua: one quota decision for one provider, atomically. Checks every window of the policy, then books
all of them or none. Callers are served in arrival order: a new booking is never earlier than the last one,
so a refused-for-now caller is given (and booked) the earliest instant at which every window admits it.

Times are epoch seconds on the Redis clock (TIME), carried as strings with 6 decimals.

KEYS[1]    state hash {last = last booking instant, until = blocked until (instant or "inf"), reason, since}
KEYS[2]    stats hash {granted, waited, wait_seconds, refused, violations}
KEYS[2+i]  window i of the policy (i = 1..n):
             rolling  -> list of the latest booking instants, oldest first (one entry per unit of cost)
             calendar -> hash {period start (integer epoch seconds) -> units booked in that period}

ARGV[1]    cost: units of quota this call takes (integer >= 1, <= every window's limit)
ARGV[2]    max_wait: seconds; a booking further away than this is refused and nothing is booked
ARGV[3]    guard: seconds added to every rolling window (jitter between grant and arrival at the provider)
           and to the start of a calendar period
ARGV[4]    now override (epoch seconds) instead of TIME; "" in production, used by tests only
ARGV[5]    "1": decide only on a state marked restored (field `ready` of KEYS[1], set by restore.lua), else
           answer "u"; "0": Redis is the only record (a limiter without a journal)
ARGV[6]    n: number of windows
ARGV[5+2i] limit of window i
ARGV[6+2i] spec of window i: "r:<seconds>" (rolling) or "c:<start>,<start>,..." (calendar: ascending
           starts of consecutive periods, computed by the caller in the window's time zone)

Returns {status, at, now}: status "1" = booked at `at` (the caller may call from then on), "0" = refused,
`at` being the earliest instant it could have been booked ("inf" while blocked until unblocked), "u" =
not decided: the state is not marked restored (Redis lost it; nothing was read or written). A refusal
only increments the `refused` counter.
--]]

-- Instants are kept to whole microseconds, rounded up (never earlier than a constraint), so that the text
-- stored and returned is exactly the instant decided on (a boundary cannot move by rounding).
local function micro(x)
  return math.ceil(x * 1000000 - 0.001) / 1000000
end

local function fmt(x)
  if x == math.huge then return 'inf' end
  return string.format('%.6f', x)
end

local now
if ARGV[4] ~= '' then
  now = micro(tonumber(ARGV[4]))
else
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
end
local cost = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local guard = tonumber(ARGV[3])
local n = tonumber(ARGV[6])

-- The earliest instant: now, not before the last booking (FIFO), not before the end of a block.
local t = now
local state = redis.call('HMGET', KEYS[1], 'last', 'until', 'ready')
if ARGV[5] == '1' and not state[3] then return {'u', fmt(now), fmt(now)} end
if state[1] and tonumber(state[1]) > t then t = tonumber(state[1]) end
if state[2] then
  local blocked = (state[2] == 'inf') and math.huge or tonumber(state[2])
  if blocked > t then t = blocked end
end

-- Rolling windows: the booking `limit - cost + 1` places from the end must be W + guard old at t
-- (the list is in booking order, which is time order).
local windows = {}
for i = 1, n do
  local limit = tonumber(ARGV[5 + 2 * i])
  local spec = ARGV[6 + 2 * i]
  local key = KEYS[2 + i]
  if string.byte(spec, 1) == 114 then -- 'r'
    local seconds = tonumber(string.sub(spec, 3))
    local back = redis.call('LINDEX', key, -(limit - cost + 1))
    if back then
      local earliest = tonumber(back) + seconds + guard
      if earliest > t then t = earliest end
    end
    windows[i] = {rolling = true, limit = limit, seconds = seconds, key = key}
  else
    local starts, labels = {}, {}
    for s in string.gmatch(string.sub(spec, 3), '[^,]+') do
      starts[#starts + 1] = tonumber(s)
      labels[#labels + 1] = s
    end
    windows[i] = {rolling = false, limit = limit, starts = starts, labels = labels, key = key}
  end
end

if t ~= math.huge then t = micro(t) end

-- Calendar windows: move t to the start of the next period (plus guard) while its period is full.
-- Every move only delays t, so the rolling constraints above stay satisfied.
local out_of_range = false
local moved = true
while moved and not out_of_range and t ~= math.huge do
  moved = false
  for i = 1, n do
    local w = windows[i]
    if not w.rolling then
      local idx = nil
      for j = 1, #w.starts - 1 do
        if w.starts[j] <= t and t < w.starts[j + 1] then idx = j end
      end
      if idx == nil then
        out_of_range = true -- beyond the periods the caller computed: cannot be booked now
      else
        local used = tonumber(redis.call('HGET', w.key, w.labels[idx]) or '0')
        if used + cost > w.limit then
          t = micro(w.starts[idx + 1] + guard)
          moved = true
        else
          w.idx = idx
        end
      end
    end
  end
end

if out_of_range or t == math.huge or t - now > max_wait then
  redis.call('HINCRBY', KEYS[2], 'refused', 1)
  return {'0', fmt(t), fmt(now)}
end

-- Commit every window.
local at = fmt(t)
for i = 1, n do
  local w = windows[i]
  if w.rolling then
    local length
    if cost == 1 then
      length = redis.call('RPUSH', w.key, at)
    else
      local entries = {}
      for k = 1, cost do entries[k] = at end
      length = redis.call('RPUSH', w.key, unpack(entries))
    end
    if length > w.limit then
      redis.call('LTRIM', w.key, -w.limit, -1)
    elseif length > 64 and length % 16 < cost then
      -- long lists (large limits), once per 16 units booked: drop the oldest 17 + cost bookings if they can
      -- no longer constrain anything, so bookings are dropped at least as fast as they are added
      local old = redis.call('LINDEX', w.key, 16 + cost)
      if old and tonumber(old) + w.seconds + guard <= now then redis.call('LTRIM', w.key, 17 + cost, -1) end
    end
    redis.call('PEXPIRE', w.key, math.ceil((t - now + w.seconds + guard) * 1000) + 1000)
  else
    if redis.call('HINCRBY', w.key, w.labels[w.idx], cost) == cost then
      -- first booking of this period: forget periods before the computed range, keep the hash an hour
      -- past the end of this period
      for _, field in ipairs(redis.call('HKEYS', w.key)) do
        if tonumber(field) < w.starts[1] then redis.call('HDEL', w.key, field) end
      end
      redis.call('PEXPIRE', w.key, math.ceil((w.starts[w.idx + 1] - now) * 1000) + 3600000)
    end
  end
end
redis.call('HSET', KEYS[1], 'last', at)
redis.call('HINCRBY', KEYS[2], 'granted', cost)
if t > now then
  redis.call('HINCRBY', KEYS[2], 'waited', 1)
  redis.call('HINCRBYFLOAT', KEYS[2], 'wait_seconds', string.format('%.6f', t - now))
end
return {'1', at, fmt(now)}
