-- settle.lua — applies a settle once per request id: frees the request's hold and slot in
-- every bucket, charges the actual cost and tokens to their buckets and (if asked) 1 to requests buckets at now,
-- marks the reservation record settled and sets the applied marker. A bucket whose rebuild
-- (seed) already counted this request is not charged again: its warm flag holds the seed's
-- watermark, the PostgreSQL snapshot its read saw, and that snapshot shows this settle's
-- ledger transaction as committed (exact whatever the order of concurrent commits). A
-- field in the markers (a seed of an instance from before the watermark, for the 15 minutes
-- those markers live during an upgrade) says the same.
--
-- KEYS  1 warm flags; 2 reservation record; 3 applied markers; 4.. per bucket, the keys of its metric
--       (layout.lua); last: the subject's pending alerts (list, until acknowledged)
-- ARGV  1-6 shared head (lib.lua); 7 request id (base64url); 8 amounts 'cost input output'; 9 count request
--       '1'|'0'; 10 the ledger transaction's xid8 (decimal; '' = unknown: counted by no seed);
--       11.. 1 per bucket (layout.lua)
-- Reply {'applied', alert, ...} | {'already_applied'} | {'cold', generation, fresh, i, ...} (nothing recorded unless
--       'applied'); an alert is 'context thresholdIndex used resetAt|- requestId now'

local REQ = ARGV[7]
local AMOUNTS = parse_amounts(ARGV[8])
local COUNT_REQUEST = ARGV[9] == '1'
local XID = ARGV[10]
local buckets = read_buckets(11)
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

-- xid8 values as decimal strings: shorter is smaller, else text order (no float rounding).
local function xid_before(a, b)
  if #a ~= #b then
    return #a < #b
  end
  return a < b
end

-- Whether a seed whose flag is `flag` ('xmin:xmax:xip,... excluded|-', or '1') counted this
-- settle: its snapshot saw XID committed (pg_visible_in_snapshot) and it did not leave this
-- request out (a settle rebuilding for itself).
local function seeded(flag)
  if flag == nil or flag == '1' then
    return false
  end
  local xmin, xmax, xip, excluded = string.match(flag or '', '^(%d+):(%d+):([%d,]*) (%S+)$')
  if not xmin or XID == '' or excluded == REQ then
    return false
  end
  if xid_before(XID, xmin) then
    return true
  end
  if not xid_before(XID, xmax) then
    return false
  end
  for x in string.gmatch(xip, '%d+') do
    if x == XID then
      return false
    end
  end
  return true
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
local cold, flags, of = cold_reply(buckets)
if cold then
  return cold
end
for j, i in ipairs(of) do
  markers[i + 1] = markers[i + 1] or seeded(flags[j])
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
