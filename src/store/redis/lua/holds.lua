-- holds.lua — cost holds, concurrency slots and session admissions; prepended after
-- usage.lua. A bucket `b` is a table of layout.lua.

-- Holds of a cost bucket: hash request -> µ$ plus SUM; expiries in a zset, dropped lazily.
local function holds_drop_expired(b)
  local gone = redis.call('ZRANGEBYSCORE', b.expiries, '-inf', fmt(NOW))
  if #gone == 0 then
    return
  end
  local freed = 0
  for _, member in ipairs(gone) do
    freed = freed + (tonumber(redis.call('HGET', b.holds, member)) or 0)
    redis.call('HDEL', b.holds, member)
  end
  redis.call('ZREMRANGEBYSCORE', b.expiries, '-inf', fmt(NOW))
  if freed ~= 0 then -- HINCRBY on a lapsed hash would recreate it without a TTL
    redis.call('HINCRBY', b.holds, SUM, fmt(-freed))
  end
end

local function holds_free(b, req)
  local amount = tonumber(redis.call('HGET', b.holds, req))
  if amount == nil then
    return
  end
  redis.call('HDEL', b.holds, req)
  redis.call('ZREM', b.expiries, req)
  redis.call('HINCRBY', b.holds, SUM, fmt(-amount))
end

local function holds_add(b, req, amount, expires)
  holds_free(b, req)
  redis.call('HSET', b.holds, req, fmt(amount))
  redis.call('HINCRBY', b.holds, SUM, fmt(amount))
  redis.call('ZADD', b.expiries, fmt(expires), req)
  extend(b.holds, expires - NOW + MARGIN_MS)
  extend(b.expiries, expires - NOW + MARGIN_MS)
end

-- Concurrency slots: zset request -> expiry (in the bucket's third key).
local function slots_timeline(b, used)
  local timeline = {}
  if used == 0 then
    return timeline
  end
  local flat = redis.call('ZRANGE', b.holds, 0, needed(b, used) - 1, 'WITHSCORES')
  for j = 2, #flat, 2 do
    timeline[#timeline + 1] = tonumber(flat[j])
    timeline[#timeline + 1] = 1
  end
  return timeline
end

local function slots_add(b, req, expires)
  redis.call('ZADD', b.holds, fmt(expires), req)
  extend(b.holds, expires - NOW + MARGIN_MS)
end

-- Frees the request's hold or slot (after dropping expired ones).
local function release_one(b, req)
  if HELD[b.metric] then
    holds_drop_expired(b)
    holds_free(b, req)
  elseif b.metric == 'concurrency' then
    redis.call('ZREMRANGEBYSCORE', b.holds, '-inf', fmt(NOW))
    redis.call('ZREM', b.holds, req)
  end
end

-- Sessions: zset session -> activeUntil. A live entry makes the request a reconnect.
local function session_live(b, session)
  if session == '' then
    return false
  end
  local active_until = tonumber(redis.call('ZSCORE', b.active, session))
  return active_until ~= nil and active_until > NOW
end

-- At most max(limit, LOG_KEEP_MIN) live sessions are kept (store-constants.ts
-- activeSessionsKept): the ones active longest; one pushed out asks again as new.
local function session_admit(b, session, ttl)
  usage_add(b, 1, session .. ':' .. fmt(NOW))
  redis.call('ZREMRANGEBYSCORE', b.active, '-inf', fmt(NOW))
  redis.call('ZADD', b.active, fmt(NOW + ttl), session)
  redis.call('ZREMRANGEBYRANK', b.active, 0, fmt(-math.max(math.ceil(b.limit), LOG_KEEP_MIN) - 1))
  extend(b.active, ttl + MARGIN_MS)
end
