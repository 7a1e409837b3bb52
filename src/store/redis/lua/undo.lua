-- undo.lua — takes back an admitted reserve whose request id turned out to belong to another
-- subject (the rare path of redis-reserve.ts): frees its holds and slots, uncounts its
-- request and new session admissions, deletes its reservation record. Runs with the
-- decision's own `now`, so it finds the entries that decision wrote. A first-use window the
-- decision opened stays open (it holds no usage of this request).
--
-- KEYS  1 warm flags; 2 reservation record; 3 applied markers (unused); 4.. per bucket, its metric's keys
-- ARGV  1-6 shared head (lib.lua, now = the decision's); 7 request id (base64url);
--       8 session id (base64url, '' = none); 9 per bucket '1' if the decision recorded a new
--       session admission there, else '0' (one character each); 10.. 1 per bucket
-- Reply the number of buckets visited

local REQ, SESSION, ADMITTED = ARGV[7], ARGV[8], ARGV[9]
local buckets = read_buckets(10)

local function uncount(b, member)
  if b.mode == 'log' then
    redis.call('ZREM', b.usage, member)
  elseif b.mode == 'slices' then
    if redis.call('EXISTS', b.usage) == 1 then
      redis.call('HINCRBY', b.usage, fmt(NOW - NOW % b.slice), -1)
    end
  elseif b.mode == 'window' then
    if window_used(b) > 0 then
      redis.call('HINCRBY', b.usage, 'n', -1)
    end
  elseif first_use_open(b) then
    redis.call('HINCRBY', b.usage, 'n', -1)
  end
end

for i, b in ipairs(buckets) do
  if b.metric == 'requests' then
    uncount(b, 'r:' .. REQ)
  elseif b.metric == 'sessions' then
    if string.sub(ADMITTED, i, i) == '1' then
      uncount(b, SESSION .. ':' .. fmt(NOW))
      redis.call('ZREM', b.active, SESSION)
    end
  else
    release_one(b, REQ)
  end
end
redis.call('DEL', KEY_RECORD)
return #buckets
