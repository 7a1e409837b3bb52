-- layout.lua — the bucket layout shared by decide, settle, release and undo (prepended after
-- lib.lua). After lib.lua's head:
--
-- KEYS[2] reservation record (hash: state, bodyHash, expiresAt, payload, sessions: the 1-based
--   indexes of the buckets this reserve admitted the session to, comma-separated, when any)
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

-- One match per argument: a gmatch loop over its words was a third of a /check's script time.
local BUCKET_ARG = '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) ?(%S*) ?(%S*)$'

local function read_buckets(argv_base)
  local buckets, k = {}, 4
  for i = 1, BUCKET_COUNT do
    local metric, mode, limit, len, slice, floor, start, wend, field, shadow, alerts, ctx =
      string.match(ARGV[argv_base + i - 1], BUCKET_ARG)
    local b = {
      index = i, metric = metric, mode = mode, limit = tonumber(limit),
      len = tonumber(len), slice = tonumber(slice), floor = tonumber(floor),
      start = tonumber(start), wend = tonumber(wend), field = field, shadow = shadow == '1',
    }
    if alerts ~= '' and alerts ~= '-' then -- settle only: alert thresholds and their context
      b.alerts, b.ctx = {}, ctx
      for t in string.gmatch(alerts, '[^,]+') do b.alerts[#b.alerts + 1] = tonumber(t) end
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

-- The 'cold' reply when some bucket is not warm, else nil: {'cold', generation, fresh, i, ...}
-- (1-based indexes), the generation being what a seed of them must carry, fresh 1 when the
-- subject has no warm flags hash at all (no flag, no generation), else 0. One HMGET reads
-- every bucket's warm flag (concurrency slots are never rebuilt); the flags read and their
-- buckets' indexes (`of`) come back too, for settle.lua's watermark test (a second HMGET cost
-- every settle; decide.lua ignores them, so its hot path builds nothing more).
local function cold_reply(buckets)
  local fields, of = {}, {}
  for _, b in ipairs(buckets) do
    if b.metric ~= 'concurrency' then
      fields[#fields + 1] = b.field
      of[#fields] = b.index
    end
  end
  if #fields == 0 then
    return nil, {}, of
  end
  local flags = redis.call('HMGET', KEY_WARM, unpack(fields))
  local reply = nil
  for j = 1, #fields do
    if not flags[j] then
      reply = reply
        or { 'cold', redis.call('HGET', KEY_WARM, GENERATION) or '', redis.call('EXISTS', KEY_WARM) == 0 and 1 or 0 }
      reply[#reply + 1] = of[j]
    end
  end
  return reply, flags, of
end
