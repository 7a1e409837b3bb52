-- cold.lua — forgets that a subject's buckets are complete: every warm flag goes, so its
-- next decision rebuilds from the ledger. The caller's warm generation stays in their place,
-- so a seed built from a ledger read before this one (a rebuild still in flight, or a
-- command the client resends late) is refused instead of bringing the flags back without
-- the settle this forgetting stands for.
--
-- KEYS  1 warm flags
-- ARGV  1-6 shared head (lib.lua; only the warm ttl is read); 7 the generation (unique to the cause)
-- Reply 1

redis.call('DEL', KEY_WARM)
redis.call('HSET', KEY_WARM, GENERATION, ARGV[7])
refresh_warmth()
return 1
