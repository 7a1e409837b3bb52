-- claim.lua — compare-and-set of a request id's pointer (the rare path of redis-reserve.ts):
-- takes the pointer over from a subject that holds no reservation for that request id.
--
-- KEYS  1 the request id's pointer (string: subject)
-- ARGV  1 the subject expected there now; 2 the new subject; 3 ttl ms
-- Reply the subject the pointer names afterwards

local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return ARGV[2]
end
return current
