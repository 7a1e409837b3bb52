-- extend.lua — a long stream keeps its reservation: moves the expiry of its record, its cost
-- holds and its concurrency slot to ARGV[8]. Only a held reservation whose hold has not lapsed
-- moves; the same call again moves it again (idempotent for the same expiry).
--
-- KEYS  1 warm flags (unused); 2 reservation record; 3 applied markers (unused); 4.. per bucket,
--       its metric's keys (layout.lua)
-- ARGV  1-6 shared head (lib.lua); 7 request id (base64url); 8 new expiry (epoch ms);
--       9 record ttl ms; 10.. 1 per bucket (layout.lua)
-- Reply {'extended'} | {'closed', 'settled'|'released'|'expired'} | {'unknown'}

local REQ = ARGV[7]
local EXPIRES = tonumber(ARGV[8])
local buckets = read_buckets(10)

local found = redis.call('HMGET', KEY_RECORD, 'state', 'expiresAt')
if not found[1] then
  return { 'unknown' }
end
if found[1] ~= 'held' then
  return { 'closed', found[1] }
end
if tonumber(found[2]) <= NOW then
  return { 'closed', 'expired' }
end

for _, b in ipairs(buckets) do
  if HELD[b.metric] and redis.call('HEXISTS', b.holds, REQ) == 1 then
    redis.call('ZADD', b.expiries, fmt(EXPIRES), REQ)
    extend(b.holds, EXPIRES - NOW + MARGIN_MS)
    extend(b.expiries, EXPIRES - NOW + MARGIN_MS)
  elseif b.metric == 'concurrency' and redis.call('ZSCORE', b.holds, REQ) then
    redis.call('ZADD', b.holds, fmt(EXPIRES), REQ)
    extend(b.holds, EXPIRES - NOW + MARGIN_MS)
  end
end
redis.call('HSET', KEY_RECORD, 'expiresAt', fmt(EXPIRES))
extend(KEY_RECORD, tonumber(ARGV[9]))
return { 'extended' }
