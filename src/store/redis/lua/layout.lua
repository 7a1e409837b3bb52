-- layout.lua — the bucket layout shared by decide, settle, release and undo (prepended after
-- lib.lua). After lib.lua's head:
--
-- KEYS[2] reservation record (hash: state, bodyHash, expiresAt, payload)
-- KEYS[3] the request's applied markers (hash: '*' = settled; a warm field = a seed counted it there)
-- per bucket, from KEYS[4] on, only the keys its metric uses: cost — usage, holds (hash),
--   hold expiries (zset); requests — usage; sessions — usage, active sessions (zset);
--   concurrency — slots (zset, in the `holds` field)
-- per bucket i, 1 ARGV from the script's base: 'metric mode limit lengthMs sliceMs floor
--   windowStart windowEnd warmField shadow [thresholds context]', space-separated, windowEnd
--   '-' for none, shadow '1'|'0' (one argument per bucket rather than ten: the client writes
--   each separately); settle adds the alert thresholds (comma-separated, ascending) and an
--   opaque context, or '- -'
--
-- Held amounts cross as one ARGV 'cost input output' (parse_amounts).
-- A bucket state in replies: { used, held, first-use start or '', reconnect 0|1,
--   { at, amount, at, amount, ... } (timeline oldest first), admits 0|1 }.

local KEY_RECORD, KEY_APPLIED = KEYS[2], KEYS[3]
-- Holds hash field for the total; request fields are base64url and never start with '~'.
local SUM = '~sum'

-- Metrics whose estimate is held at reserve and whose actual amount is charged at settle:
-- cost (µ$) and the token metrics (SPEC §4.7), in one layout.
local HELD = { cost = true, input_tokens = true, output_tokens = true, tokens = true }

-- The keys each metric's bucket takes, in order (script-calls.ts sends the same).
local HELD_KEYS = { 'usage', 'holds', 'expiries' }
local BUCKET_KEYS = {
  cost = HELD_KEYS,
  input_tokens = HELD_KEYS,
  output_tokens = HELD_KEYS,
  tokens = HELD_KEYS,
  requests = { 'usage' },
  sessions = { 'usage', 'active' },
  concurrency = { 'holds' },
}

local function read_buckets(argv_base)
  local buckets, k = {}, 4
  for i = 1, BUCKET_COUNT do
    local f = {}
    for word in string.gmatch(ARGV[argv_base + i - 1], '%S+') do f[#f + 1] = word end
    local b = {
      index = i, metric = f[1], mode = f[2], limit = tonumber(f[3]),
      len = tonumber(f[4]), slice = tonumber(f[5]), floor = tonumber(f[6]),
      start = tonumber(f[7]), wend = tonumber(f[8]), field = f[9], shadow = f[10] == '1',
    }
    if f[11] and f[11] ~= '-' then -- settle only: alert thresholds and their context
      b.alerts, b.ctx = {}, f[12]
      for t in string.gmatch(f[11], '[^,]+') do b.alerts[#b.alerts + 1] = tonumber(t) end
    end
    for _, name in ipairs(BUCKET_KEYS[b.metric]) do
      b[name] = KEYS[k]
      k = k + 1
    end
    buckets[i] = b
  end
  return buckets
end

-- 'cost input output' (µ$, tokens) → the amount a held bucket takes: tokens are input + output.
local function parse_amounts(text)
  local a = {}
  for word in string.gmatch(text, '%S+') do a[#a + 1] = tonumber(word) end
  return { cost = a[1] or 0, input_tokens = a[2] or 0, output_tokens = a[3] or 0, tokens = (a[2] or 0) + (a[3] or 0) }
end

local function amount_of(b, amounts)
  return amounts[b.metric] or 0
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
