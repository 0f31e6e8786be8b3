-- Give up the lead if the candidate holds it. KEYS: the leader key. ARGV: candidate id.
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
