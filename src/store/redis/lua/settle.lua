-- settle.lua — applies a settle once per request id: frees the request's hold and slot in
-- every bucket, charges the actual cost and tokens to their buckets and (if asked) 1 to requests buckets at now,
-- marks the reservation record settled and sets the applied marker. A bucket whose rebuild
-- (seed) already counted this request carries its field in the markers and is not charged again.
--
-- KEYS  1 warm flags; 2 reservation record; 3 applied markers; 4.. per bucket, the keys of its metric (layout.lua)
-- ARGV  1-6 shared head (lib.lua); 7 request id (base64url); 8 amounts 'cost input output'; 9 count request
--       '1'|'0'; 10.. 1 per bucket (layout.lua)
-- Reply {'applied'} | {'already_applied'} | {'cold', i, ...} (nothing recorded unless 'applied')

local REQ = ARGV[7]
local AMOUNTS = parse_amounts(ARGV[8])
local COUNT_REQUEST = ARGV[9] == '1'
local buckets = read_buckets(10)

if redis.call('HEXISTS', KEY_APPLIED, '*') == 1 or redis.call('HGET', KEY_RECORD, 'state') == 'settled' then
  return { 'already_applied' }
end
local cold = cold_indexes(buckets)
if #cold > 0 then
  return { 'cold', unpack(cold) }
end

for _, b in ipairs(buckets) do
  release_one(b, REQ)
  if redis.call('HEXISTS', KEY_APPLIED, b.field) == 0 then
    local amount = amount_of(b, AMOUNTS)
    if HELD[b.metric] and amount > 0 then
      usage_add(b, amount, 's:' .. REQ)
    elseif b.metric == 'requests' and COUNT_REQUEST then
      usage_add(b, 1, 's:' .. REQ)
    end
  end
end

if redis.call('EXISTS', KEY_RECORD) == 1 then
  redis.call('HSET', KEY_RECORD, 'state', 'settled')
  extend(KEY_RECORD, APPLIED_TTL_MS)
end
redis.call('HSET', KEY_APPLIED, '*', '1')
redis.call('PEXPIRE', KEY_APPLIED, fmt(APPLIED_TTL_MS))
refresh_warmth()
return { 'applied' }
