-- usage.lua — how each counting mode stores and reads usage; prepended (after lib.lua and
-- layout.lua) to decide, settle, release and undo. A bucket `b` is a table of layout.lua.

-- How many of the oldest entries must leave before `used` drops below the limit (≥ 1, ≤ used).
local function needed(b, used)
  return math.min(used, math.max(1, math.floor(used - b.limit) + 1))
end

-- The domain's rollingStart (src/domain/windows.ts); test/store/suites/window-rules.ts holds
-- this copy to it.
local function rolling_start(b)
  return math.max(NOW - b.len + 1, b.floor)
end

-- log: zset member -> event time; exact, trimmed to the newest max(limit, LOG_KEEP_MIN).
local function log_used(b)
  return redis.call('ZCOUNT', b.usage, fmt(rolling_start(b)), '+inf')
end

local function log_timeline(b, used)
  local timeline = {}
  if used == 0 then
    return timeline
  end
  local flat = redis.call('ZRANGEBYSCORE', b.usage, fmt(rolling_start(b)), '+inf', 'WITHSCORES', 'LIMIT', 0,
    needed(b, used))
  for j = 2, #flat, 2 do
    timeline[#timeline + 1] = tonumber(flat[j])
    timeline[#timeline + 1] = 1
  end
  return timeline
end

local function log_add(b, member)
  redis.call('ZADD', b.usage, fmt(NOW), member)
  redis.call('ZREMRANGEBYSCORE', b.usage, '-inf', '(' .. fmt(rolling_start(b)))
  redis.call('ZREMRANGEBYRANK', b.usage, 0, fmt(-math.max(math.ceil(b.limit), LOG_KEEP_MIN) - 1))
  extend(b.usage, b.len + MARGIN_MS)
end

-- slices: hash slice start -> amount. A slice counts whole while its last instant is in the
-- window (never under-counts); stale slices are dropped when the bucket is written.
local function slices_read(b)
  local from = rolling_start(b)
  local flat = redis.call('HGETALL', b.usage)
  local used, list, stale = 0, {}, {}
  for j = 1, #flat, 2 do
    local at, amount = tonumber(flat[j]), tonumber(flat[j + 1])
    if at + b.slice - 1 >= from then
      used = used + amount
      list[#list + 1] = { at, amount }
    else
      stale[#stale + 1] = flat[j]
    end
  end
  table.sort(list, function(x, y) return x[1] < y[1] end)
  return used, list, stale
end

local function slices_add(b, amount)
  local _, _, stale = slices_read(b)
  for _, field in ipairs(stale) do
    redis.call('HDEL', b.usage, field)
  end
  redis.call('HINCRBY', b.usage, fmt(NOW - NOW % b.slice), fmt(amount))
  extend(b.usage, b.len + b.slice + MARGIN_MS)
end

-- window: hash { st = window start, n = used }. Restarts in place when `start` moves
-- forward; a caller still on an older window counts into the newer one (never under-counts).
local function window_used(b)
  local stored = redis.call('HMGET', b.usage, 'st', 'n')
  local st = tonumber(stored[1])
  if st == nil or st < b.start then
    return 0
  end
  return tonumber(stored[2]) or 0
end

local function window_add(b, amount)
  local st = tonumber(redis.call('HGET', b.usage, 'st'))
  if st == nil or st < b.start then
    redis.call('HSET', b.usage, 'st', fmt(b.start), 'n', fmt(amount))
  else
    redis.call('HINCRBY', b.usage, 'n', fmt(amount))
  end
  if b.wend then
    extend(b.usage, b.wend - NOW + MARGIN_MS)
  else
    redis.call('PERSIST', b.usage) -- `total`: the one structure without a TTL
  end
end

-- first_use: hash { s = window start, n = used }; open while now < s + length and s ≥ floor:
-- the domain's firstUseOpen (src/domain/first-use.ts), held to it by
-- test/store/suites/window-rules.ts.
local function first_use_open(b)
  local stored = redis.call('HMGET', b.usage, 's', 'n')
  local s = tonumber(stored[1])
  if s ~= nil and NOW < s + b.len and s >= b.floor then
    return s, tonumber(stored[2]) or 0
  end
  return nil, 0
end

local function first_use_add(b, amount)
  local s = first_use_open(b)
  if s == nil then
    s = NOW
    redis.call('HSET', b.usage, 's', fmt(NOW), 'n', fmt(amount))
  elseif amount ~= 0 then
    redis.call('HINCRBY', b.usage, 'n', fmt(amount))
  end
  extend(b.usage, s + b.len - NOW + MARGIN_MS)
end

-- Returns used, the open first-use window's start (nil otherwise) and, for slices, the
-- counted slices oldest first (usage_timeline's, so the hash is read once).
local function usage_used(b)
  if b.mode == 'log' then
    return log_used(b), nil
  elseif b.mode == 'slices' then
    local used, list = slices_read(b)
    return used, nil, list
  elseif b.mode == 'window' then
    return window_used(b), nil
  end
  local s, n = first_use_open(b)
  return n, s
end

-- Amount 0 only matters to first_use: an admitted request opens its window.
local function usage_add(b, amount, member)
  if b.mode == 'first_use' then
    first_use_add(b, amount)
  elseif amount == 0 then
    return
  elseif b.mode == 'log' then
    log_add(b, member)
  elseif b.mode == 'slices' then
    slices_add(b, amount)
  else
    window_add(b, amount)
  end
end

-- `slices`: usage_used's third value.
local function usage_timeline(b, used, slices)
  if b.mode == 'log' then
    return log_timeline(b, used)
  end
  local flat = {}
  if b.mode == 'slices' then
    for _, e in ipairs(slices) do
      flat[#flat + 1] = e[1]
      flat[#flat + 1] = e[2]
    end
  end
  return flat
end
