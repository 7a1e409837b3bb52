-- settle.lua — applies a settle once per request id: frees the request's hold and slot in
-- every bucket, charges the actual cost and tokens to their buckets and (if asked) 1 to requests buckets at now,
-- marks the reservation record settled and sets the applied marker. A bucket whose rebuild
-- (seed) already counted this request carries its field in the markers and is not charged again.
--
-- KEYS  1 warm flags; 2 reservation record; 3 applied markers; 4.. per bucket, the keys of its metric
--       (layout.lua); last: the subject's pending alerts (list, until acknowledged)
-- ARGV  1-6 shared head (lib.lua); 7 request id (base64url); 8 amounts 'cost input output'; 9 count request
--       '1'|'0'; 10.. 1 per bucket (layout.lua)
-- Reply {'applied', alert, ...} | {'already_applied'} | {'cold', generation, fresh, i, ...} (nothing recorded unless
--       'applied'); an alert is 'context thresholdIndex used resetAt|- requestId now'

local REQ = ARGV[7]
local AMOUNTS = parse_amounts(ARGV[8])
local COUNT_REQUEST = ARGV[9] == '1'
local buckets = read_buckets(10)
local KEY_ALERTS = KEYS[#KEYS]
local alerts = {}

-- SPEC §5.1: a threshold is crossed when this charge moves used from below it to at or above
-- it; judged here, atomically with the charge, so two racing settles cross it once.
local function note_crossings(b, before)
  local after, first_use_start = usage_used(b)
  local reset = '-'
  if b.mode == 'window' and b.wend then
    reset = fmt(b.wend)
  elseif b.mode == 'first_use' and first_use_start then
    reset = fmt(first_use_start + b.len)
  end
  for j, t in ipairs(b.alerts) do
    if before < t and t <= after then
      alerts[#alerts + 1] = table.concat({ b.ctx, j, fmt(after), reset, REQ, fmt(NOW) }, ' ')
    end
  end
end

-- One HMGET for the settled marker and every bucket's (a rebuild that counted the request
-- there); the record's state, nil when there is no record, says whether to mark it.
local marker_fields = { '*' }
for i, b in ipairs(buckets) do
  marker_fields[i + 1] = b.field
end
local markers = redis.call('HMGET', KEY_APPLIED, unpack(marker_fields))
local state = redis.call('HGET', KEY_RECORD, 'state')
if markers[1] or state == 'settled' then
  return { 'already_applied' }
end
local cold = cold_reply(buckets)
if cold then
  return cold
end

for i, b in ipairs(buckets) do
  release_one(b, REQ)
  if not markers[i + 1] then
    local amount = amount_of(b, AMOUNTS)
    local counted = (HELD[b.metric] and amount > 0) or (b.metric == 'requests' and COUNT_REQUEST)
    local before = counted and b.alerts and usage_used(b)
    if HELD[b.metric] and amount > 0 then
      usage_add(b, amount, 's:' .. REQ)
    elseif b.metric == 'requests' and COUNT_REQUEST then
      usage_add(b, 1, 's:' .. REQ)
    end
    if before then
      note_crossings(b, before)
    end
  elseif b.alerts then
    -- A rebuild racing this settle already counted it here: what it added is still this
    -- settle's own, so the crossing is judged as if it were charged now.
    local amount = amount_of(b, AMOUNTS)
    if b.metric == 'requests' and COUNT_REQUEST then
      amount = 1
    end
    if amount > 0 then
      note_crossings(b, usage_used(b) - amount)
    end
  end
end

if state then
  redis.call('HSET', KEY_RECORD, 'state', 'settled')
  extend(KEY_RECORD, APPLIED_TTL_MS)
end
redis.call('HSET', KEY_APPLIED, '*', '1')
redis.call('PEXPIRE', KEY_APPLIED, fmt(APPLIED_TTL_MS))
refresh_warmth()
if #alerts > 0 then
  redis.call('RPUSH', KEY_ALERTS, unpack(alerts))
  redis.call('PEXPIRE', KEY_ALERTS, fmt(7 * 86400000))
end
return { 'applied', unpack(alerts) }
