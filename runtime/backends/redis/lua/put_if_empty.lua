-- Huey's put_if_empty with a ttl, for servers without hash-field TTL (before 7.4):
-- expired fields are dropped first, then HSETNX; the expiry is tracked in a sorted set.
-- KEYS[1]: Huey's result hash. ARGV: field, value, ttl (seconds, '' = none).
local field, value, ttl = unpack(ARGV)
local expired = redis.call('ZRANGEBYSCORE', KV_EXPIRY_KEY, '-inf', NOW_TEXT, 'LIMIT', 0, 100)
for _, name in ipairs(expired) do
  redis.call('HDEL', KEYS[1], name)
  redis.call('ZREM', KV_EXPIRY_KEY, name)
end
if redis.call('HSETNX', KEYS[1], field, value) == 0 then return 0 end
if ttl == '' then
  redis.call('ZREM', KV_EXPIRY_KEY, field)
else
  redis.call('ZADD', KV_EXPIRY_KEY, from_now(ttl), field)
end
return 1
