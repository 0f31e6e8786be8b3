-- Active jobs of workers that stopped heart-beating: lease deadline set to now, so the
-- next reap recovers them at once. ARGV: queue, claimed_before (the server's time), live
-- worker ids (JSON list). Jobs claimed at or after claimed_before are spared. Returns their
-- ids.
local queue, before = ARGV[1], tonumber(ARGV[2])
local live = {}
for _, worker in ipairs(cjson.decode(ARGV[3])) do live[worker] = true end
local active = qkey(queue, Q.ACTIVE)
local expired = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', active, '(' .. NOW_TEXT, '+inf')) do
  local rec = redis.call('HMGET', job_key(id), 'worker', 'started_at')
  if rec[1] and not live[rec[1]] and rec[2] and tonumber(rec[2]) < before then
    redis.call('ZADD', active, 'XX', NOW, id)
    expired[#expired + 1] = id
  end
end
return expired
