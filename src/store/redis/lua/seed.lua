-- seed.lua — writes the rebuilt buckets of one subject. Each bucket is written only if its
-- warm flag is still absent (set-if-absent: racing seeds leave the first one's value, never
-- a sum): its usage and active-session structures are replaced, then flagged warm with the
-- rebuild's watermark as the flag's value, so a late settle whose ledger transaction the
-- rebuild's snapshot saw charges nothing twice there (settle.lua; it still charges buckets
-- this seed did not write). Nothing is written when the subject's warm generation is no
-- longer the one the rebuild began from: a cold.lua came in between, for a settle the
-- rebuild's ledger read missed.
--
-- KEYS  1 warm flags; then 2 per bucket: usage, active sessions
-- ARGV  1-6 shared head (lib.lua); 7 the generation of the cold answer the rebuild began
--       from ('' = none); 8 the watermark 'xmin:xmax:xip excluded-request|-' ('' = none: the
--       flag is '1'); then per bucket, variable length:
--       warm field, mode, usage ttl ms ('' = none), active ttl ms, n, n pairs, m, m pairs
--       usage pairs: log (member, time) -> ZADD; slices (slice start, amount), window
--       ('st', start)('n', used), first_use ('s', start)('n', used) -> HSET
--       active pairs: (session id base64url, activeUntil) -> ZADD
-- Reply the number of buckets written; -1 when the generation moved on

-- A bucket's flags under an older signature name storage no decision reads any more.
local function forget_other_signatures(field)
  local prefix = string.sub(field, 1, string.find(field, '#', 1, true))
  for _, other in ipairs(redis.call('HKEYS', KEY_WARM)) do
    if other ~= field and string.sub(other, 1, #prefix) == prefix then
      redis.call('HDEL', KEY_WARM, other)
    end
  end
end

local function write_usage(key, mode, from, n)
  for j = from, from + 2 * (n - 1), 2 do
    if mode == 'log' then
      redis.call('ZADD', key, ARGV[j + 1], ARGV[j])
    else
      redis.call('HSET', key, ARGV[j], ARGV[j + 1])
    end
  end
end

if (redis.call('HGET', KEY_WARM, GENERATION) or '') ~= ARGV[7] then
  return -1
end

local FLAG = ARGV[8] ~= '' and ARGV[8] or '1'
local written = 0
local pos, key = 9, 2
for _ = 1, BUCKET_COUNT do
  local field, mode, usage_ttl, active_ttl = ARGV[pos], ARGV[pos + 1], ARGV[pos + 2], ARGV[pos + 3]
  local n = tonumber(ARGV[pos + 4])
  local usage_from = pos + 5
  local m = tonumber(ARGV[usage_from + 2 * n])
  local active_from = usage_from + 2 * n + 1
  local usage, active = KEYS[key], KEYS[key + 1]
  pos, key = active_from + 2 * m, key + 2
  if redis.call('HEXISTS', KEY_WARM, field) == 0 then
    redis.call('DEL', usage, active)
    write_usage(usage, mode, usage_from, n)
    if n > 0 and usage_ttl ~= '' then
      redis.call('PEXPIRE', usage, usage_ttl)
    end
    for j = active_from, active_from + 2 * (m - 1), 2 do
      redis.call('ZADD', active, ARGV[j + 1], ARGV[j])
    end
    if m > 0 then
      redis.call('PEXPIRE', active, active_ttl)
    end
    forget_other_signatures(field)
    redis.call('HSET', KEY_WARM, field, FLAG)
    written = written + 1
  end
end

refresh_warmth()
return written
