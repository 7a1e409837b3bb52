-- release.lua — the upstream call did not happen: frees the request's hold and slot in every
-- bucket and marks a held reservation released. Requests and sessions stay counted.
-- Never cold: holds and slots are not rebuilt from the ledger.
--
-- KEYS  1 warm flags; 2 reservation record; 3 applied markers (unused); 4.. per bucket, its metric's keys
-- ARGV  1-6 shared head (lib.lua); 7 request id (base64url); 8.. 1 per bucket (layout.lua)
-- Reply {'applied'} | {'already_applied'} (the reservation was already settled or released)

local REQ = ARGV[7]
local buckets = read_buckets(8)

local state = redis.call('HGET', KEY_RECORD, 'state')
for _, b in ipairs(buckets) do
  release_one(b, REQ)
end
if state == 'settled' or state == 'released' then
  return { 'already_applied' }
end
if state == 'held' then
  redis.call('HSET', KEY_RECORD, 'state', 'released')
end
return { 'applied' }
