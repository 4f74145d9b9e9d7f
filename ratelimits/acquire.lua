--[[
acquire.lua: one quota decision for one provider, atomically. Checks every window of the policy, then books
all of them or none. Callers are served in arrival order: a new booking is never earlier than the last one,
so a refused-for-now caller is given (and booked) the earliest instant at which every window admits it.

Times are epoch seconds on the Redis clock (TIME), carried as strings with 6 decimals.

KEYS[1]    last booking instant (string)
KEYS[2]    block hash {until = instant or "inf", reason = text}, set by block.lua
KEYS[3]    stats hash {granted, waited, wait_seconds, refused, violations}
KEYS[3+i]  window i of the policy (i = 1..n):
             rolling  -> list of the latest booking instants, oldest first (one entry per unit of cost)
             calendar -> hash {period start (integer epoch seconds) -> units booked in that period}

ARGV[1]    cost: units of quota this call takes (integer >= 1, <= every window's limit)
ARGV[2]    max_wait: seconds; a booking further away than this is refused and nothing is written
ARGV[3]    guard: seconds added to every rolling window (jitter between grant and arrival at the provider)
ARGV[4]    now override (epoch seconds) instead of TIME; "" in production, used by tests only
ARGV[5]    n: number of windows
ARGV[4+2i] limit of window i
ARGV[5+2i] spec of window i: "r:<seconds>" (rolling) or "c:<start>,<start>,..." (calendar: ascending
           starts of consecutive periods, computed by the caller in the window's time zone)

Returns {status, at, now}: status "1" = booked at `at` (the caller may call from then on), "0" = refused,
`at` being the earliest instant it could have been booked ("inf" while blocked until unblocked).
--]]

if redis.replicate_commands then redis.replicate_commands() end

local function instant(x)
  if x == 'inf' then return math.huge end
  return tonumber(x)
end

local function fmt(x)
  if x == math.huge then return 'inf' end
  return string.format('%.6f', x)
end

local now
if ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
end
local cost = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local guard = tonumber(ARGV[3])
local n = tonumber(ARGV[5])

-- The earliest instant: now, after the last booking (FIFO), after any block.
local t = now
local last = redis.call('GET', KEYS[1])
if last and tonumber(last) > t then t = tonumber(last) end
local blocked = redis.call('HGET', KEYS[2], 'until')
if blocked and instant(blocked) > t then t = instant(blocked) end

-- Rolling windows: the booking `limit - cost + 1` places from the end must be W + guard old at t.
local windows = {}
for i = 1, n do
  local limit = tonumber(ARGV[4 + 2 * i])
  local spec = ARGV[5 + 2 * i]
  local key = KEYS[3 + i]
  if string.sub(spec, 1, 2) == 'r:' then
    local seconds = tonumber(string.sub(spec, 3))
    -- drop a few bookings that can no longer constrain anything (amortised: one per unit booked)
    for _ = 1, cost + 1 do
      local head = redis.call('LINDEX', key, 0)
      if head and tonumber(head) + seconds + guard <= now then redis.call('LPOP', key) else break end
    end
    local back = redis.call('LINDEX', key, -(limit - cost + 1))
    if back then
      local earliest = tonumber(back) + seconds + guard
      if earliest > t then t = earliest end
    end
    windows[i] = {kind = 'r', limit = limit, seconds = seconds, key = key}
  else
    local starts, labels = {}, {}
    for s in string.gmatch(string.sub(spec, 3), '[^,]+') do
      starts[#starts + 1] = tonumber(s)
      labels[#labels + 1] = s
    end
    windows[i] = {kind = 'c', limit = limit, starts = starts, labels = labels, key = key}
  end
end

-- Calendar windows: move t to the start of the next period (plus guard) while its period is full.
-- Every move only delays t, so the rolling constraints above stay satisfied.
local out_of_range = false
local moved = true
while moved and not out_of_range and t ~= math.huge do
  moved = false
  for i = 1, n do
    local w = windows[i]
    if w.kind == 'c' then
      local idx = nil
      for j = 1, #w.starts - 1 do
        if w.starts[j] <= t and t < w.starts[j + 1] then idx = j end
      end
      if idx == nil then
        out_of_range = true
      else
        local used = tonumber(redis.call('HGET', w.key, w.labels[idx]) or '0')
        if used + cost > w.limit then
          t = w.starts[idx + 1] + guard
          moved = true
        else
          w.idx = idx
        end
      end
    end
  end
end

local stats = KEYS[3]
if out_of_range or t == math.huge or t - now > max_wait then
  redis.call('HINCRBY', stats, 'refused', 1)
  return {'0', fmt(t), fmt(now)}
end

-- Commit every window.
local at = fmt(t)
for i = 1, n do
  local w = windows[i]
  if w.kind == 'r' then
    for _ = 1, cost do redis.call('RPUSH', w.key, at) end
    redis.call('LTRIM', w.key, -w.limit, -1)
    redis.call('PEXPIRE', w.key, math.ceil((t - now + w.seconds + guard) * 1000) + 1000)
  else
    redis.call('HINCRBY', w.key, w.labels[w.idx], cost)
    if redis.call('HLEN', w.key) > 4 then
      for _, field in ipairs(redis.call('HKEYS', w.key)) do
        if tonumber(field) < w.starts[1] then redis.call('HDEL', w.key, field) end
      end
    end
    redis.call('PEXPIRE', w.key, math.ceil((w.starts[w.idx + 1] - now) * 1000) + 3600000)
  end
end
redis.call('SET', KEYS[1], at, 'PX', math.ceil((t - now) * 1000) + 1000)
redis.call('HINCRBY', stats, 'granted', cost)
if t > now then
  redis.call('HINCRBY', stats, 'waited', 1)
  redis.call('HINCRBYFLOAT', stats, 'wait_seconds', string.format('%.6f', t - now))
end
return {'1', at, fmt(now)}
