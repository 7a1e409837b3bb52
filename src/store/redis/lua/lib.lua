-- lib.lua — prepended to every quotagate script at load time (see scripts.ts); not a script
-- by itself. The shared head of every script's arguments:
--
-- KEYS[1]     the subject's warm flags (hash: bucket warm field -> '1', and '~gen' -> the
--             token of the subject's last cold.lua)
-- ARGV[1..6]  now (epoch ms), bucket count, ttl margin ms, warm ttl ms, log keep min,
--             applied-marker ttl ms
--
-- Numbers cross as decimal strings; fmt() keeps integers out of Lua's exponent notation.

local NOW = tonumber(ARGV[1])
local BUCKET_COUNT = tonumber(ARGV[2])
local MARGIN_MS = tonumber(ARGV[3])
local WARM_TTL_MS = tonumber(ARGV[4])
local LOG_KEEP_MIN = tonumber(ARGV[5])
local APPLIED_TTL_MS = tonumber(ARGV[6])
local KEY_WARM = KEYS[1]
-- The warm flags' field holding the subject's warm generation (cold.lua); '~' is no base64url
-- character, so no bucket's field can be it.
local GENERATION = '~gen'

local function fmt(n)
  return string.format('%d', n)
end

-- Lengthens a key's TTL to `ms` (at least the margin), never shortens it; a key without a
-- TTL gets one. Usage keys outlive their relevance, so a lapse never loses counted usage.
local function extend(key, ms)
  if ms < MARGIN_MS then
    ms = MARGIN_MS
  end
  if redis.call('PTTL', key) < ms then
    redis.call('PEXPIRE', key, fmt(ms))
  end
end

local function refresh_warmth()
  redis.call('PEXPIRE', KEY_WARM, fmt(WARM_TTL_MS))
end
