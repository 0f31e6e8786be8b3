-- Take the lead if nobody holds it (or its lease expired), or extend it if the candidate
-- holds it. KEYS: the leader key. ARGV: candidate id, ttl in ms. Returns 1 when leading.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
