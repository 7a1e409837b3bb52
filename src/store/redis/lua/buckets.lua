-- buckets.lua — a bucket's state and the admission rule; prepended after holds.lua.

local function bucket_state(b, session)
  if b.metric == 'concurrency' then
    redis.call('ZREMRANGEBYSCORE', b.holds, '-inf', fmt(NOW))
    local used = redis.call('ZCARD', b.holds)
    return { used, 0, '', 0, slots_timeline(b, used), 0 }
  end
  local used, first_use_start, slices = usage_used(b)
  local held = 0
  if HELD[b.metric] then
    holds_drop_expired(b)
    held = tonumber(redis.call('HGET', b.holds, SUM)) or 0
  end
  local reconnect = 0
  if b.metric == 'sessions' and session_live(b, session) then
    reconnect = 1
  end
  return { used, held, first_use_start or '', reconnect, usage_timeline(b, used, slices), 0 }
end

-- SPEC §4.1, as src/domain/admission.ts: a cap of 0 refuses everything, reconnects included;
-- a sessions bucket is only evaluated when the request names a session. Held metrics compare
-- their own estimate (`estimates`: parse_amounts).
local function admits(b, state, estimates, session)
  local used, held = state[1], state[2]
  if b.metric == 'sessions' and session == '' then
    return true
  end
  if b.limit <= 0 then
    return false
  end
  if HELD[b.metric] then
    local estimate = amount_of(b, estimates)
    if estimate > 0 then
      return used + held + estimate <= b.limit
    end
    return used + held < b.limit
  end
  if b.metric == 'sessions' and state[4] == 1 then
    return true
  end
  return used < b.limit
end
