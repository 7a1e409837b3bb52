-- layout.lua — the bucket layout shared by decide, settle, release and undo (prepended after
-- lib.lua). After lib.lua's head:
--
-- KEYS[2] reservation record (hash: state, bodyHash, expiresAt, payload)
-- KEYS[3] the request's applied markers (hash: '*' = settled; a warm field = a seed counted it there)
-- per bucket i, 4 KEYS from KEYS[4]: usage, active sessions (zset), holds (hash) or slots
--   (zset), hold expiries (zset)
-- per bucket i, 9 ARGV from the script's base: metric, mode, limit, lengthMs, sliceMs,
--   floor, window start, window end ('' = none), warm field
--
-- A bucket state in replies: { used, held, first-use start or '', reconnect 0|1,
--   { at, amount, at, amount, ... } } (timeline oldest first).

local KEY_RECORD, KEY_APPLIED = KEYS[2], KEYS[3]
-- Holds hash field for the total; request fields are base64url and never start with '~'.
local SUM = '~sum'

local function read_buckets(argv_base)
  local buckets = {}
  for i = 1, BUCKET_COUNT do
    local a, k = argv_base + (i - 1) * 9, 4 + (i - 1) * 4
    buckets[i] = {
      index = i, metric = ARGV[a], mode = ARGV[a + 1], limit = tonumber(ARGV[a + 2]),
      len = tonumber(ARGV[a + 3]), slice = tonumber(ARGV[a + 4]), floor = tonumber(ARGV[a + 5]),
      start = tonumber(ARGV[a + 6]), wend = tonumber(ARGV[a + 7]), field = ARGV[a + 8],
      usage = KEYS[k], active = KEYS[k + 1], holds = KEYS[k + 2], expiries = KEYS[k + 3],
    }
  end
  return buckets
end

local function cold_indexes(buckets)
  local cold = {}
  for _, b in ipairs(buckets) do
    if b.metric ~= 'concurrency' and redis.call('HEXISTS', KEY_WARM, b.field) == 0 then
      cold[#cold + 1] = b.index
    end
  end
  return cold
end
