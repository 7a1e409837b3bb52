-- decide.lua — one decision for one subject, atomically: checks every bucket and, only if
-- all admit and ARGV[7] is '1' (/reserve), records the holds (cost and tokens: their estimate), request counts
-- (+1 per requests bucket), the session admission, the concurrency slot and the reservation
-- record. ARGV[7] = '2' (/authz) records the same but holds nothing: the estimates are only
-- checked. ARGV[7] = '0' is the dry run of /check and /usage: it records nothing.
-- (Expired holds, slots and stale slices met on the way are dropped either way.)
--
-- KEYS  1 warm flags; 2 reservation record; 3 applied markers (unused); 4.. per bucket, its metric's keys
--       (layout.lua)
-- ARGV  1-6 shared head (lib.lua); 7 record '1' | record without holds '2' | dry run '0';
--       8 estimates 'cost input output'; 9 session id
--       (base64url, '' = none); 10 session ttl ms; 11 request id (base64url); 12 hold ttl ms;
--       13 body hash; 14 payload; 15 record ttl ms; 16.. 1 per bucket (layout.lua)
-- Reply {'existing', state, bodyHash, expiresAt, payload, sessions}   the request id already
--       reserved here; sessions: the 1-based indexes of its session admissions, comma-separated
--       {'cold', generation, fresh, i, ...}                  fresh 1|0 (layout.lua), 1-based indexes of cold buckets
--       {'decided', 1|0, state, ...}                         admitted?, one state per bucket:
--       states after recording when admitted, as found when refused

local RECORD = ARGV[7] ~= '0'
local HOLD = ARGV[7] == '1'
local ESTIMATES = parse_amounts(ARGV[8])
local SESSION = ARGV[9]
local SESSION_TTL_MS = tonumber(ARGV[10])
local REQ = ARGV[11]
local EXPIRES = NOW + tonumber(ARGV[12])
local buckets = read_buckets(16)

if RECORD then
  local found = redis.call('HMGET', KEY_RECORD, 'state', 'bodyHash', 'expiresAt', 'payload', 'sessions')
  if found[1] then
    return { 'existing', found[1], found[2], found[3], found[4], found[5] or '' }
  end
end

local cold = cold_reply(buckets)
if cold then
  return cold
end
refresh_warmth()

local new_sessions = {} -- 1-based indexes of this reserve's session admissions

local function record(b, state)
  if HELD[b.metric] then
    local estimate = amount_of(b, ESTIMATES)
    if HOLD and estimate > 0 then
      holds_add(b, REQ, estimate, EXPIRES)
    end
    usage_add(b, 0, nil) -- opens a first-use window
  elseif b.metric == 'requests' then
    usage_add(b, 1, 'r:' .. REQ)
  elseif b.metric == 'sessions' then
    if SESSION ~= '' and state[4] == 0 then
      session_admit(b, SESSION, SESSION_TTL_MS)
      new_sessions[#new_sessions + 1] = b.index
    end
  else
    slots_add(b, REQ, EXPIRES)
  end
end

-- A shadow bucket's refusal is reported (admits 0), never a refusal of the decision (SPEC §4.8).
local states, verdicts, admitted = {}, {}, true
for i, b in ipairs(buckets) do
  states[i] = bucket_state(b, SESSION)
  verdicts[i] = admits(b, states[i], ESTIMATES, SESSION) and 1 or 0
  states[i][6] = verdicts[i]
  if verdicts[i] == 0 and not b.shadow then
    admitted = false
  end
end

if admitted and RECORD then
  for i, b in ipairs(buckets) do
    record(b, states[i])
  end
  redis.call('HSET', KEY_RECORD, 'state', 'held', 'bodyHash', ARGV[13], 'expiresAt', fmt(EXPIRES), 'payload', ARGV[14])
  if #new_sessions > 0 then
    redis.call('HSET', KEY_RECORD, 'sessions', table.concat(new_sessions, ','))
  end
  redis.call('PEXPIRE', KEY_RECORD, ARGV[15])
  for i, b in ipairs(buckets) do
    local reconnect = states[i][4] -- a new admission is not a reconnect, even once recorded
    states[i] = bucket_state(b, SESSION)
    states[i][4] = reconnect
    states[i][6] = verdicts[i]
  end
end

-- An admitting bucket's caller needs only its oldest entry (the next release, SPEC §4.2
-- nextFreeAt); the whole timeline is for a refusing one's retry time.
local reply = { 'decided', admitted and 1 or 0 }
for i, state in ipairs(states) do
  local timeline = state[5]
  if verdicts[i] == 1 and #timeline > 2 then
    state[5] = { timeline[1], timeline[2] }
  end
  reply[#reply + 1] = state
end
return reply
