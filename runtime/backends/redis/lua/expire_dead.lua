-- Active jobs of workers that stopped heart-beating: lease deadline set to now, so the
-- next reap recovers them at once. ARGV: queue, now, claimed_before, live worker ids
-- (JSON list). Jobs claimed at or after claimed_before are spared. Returns their ids.
local queue, now, before = ARGV[1], ARGV[2], tonumber(ARGV[3])
local live = {}
for _, worker in ipairs(cjson.decode(ARGV[4])) do live[worker] = true end
local active = qkey(queue, Q.ACTIVE)
local expired = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', active, '(' .. now, '+inf')) do
  local rec = redis.call('HMGET', job_key(id), 'worker', 'started_at')
  if rec[1] and not live[rec[1]] and rec[2] and tonumber(rec[2]) < before then
    redis.call('ZADD', active, 'XX', now, id)
    expired[#expired + 1] = id
  end
end
return expired
