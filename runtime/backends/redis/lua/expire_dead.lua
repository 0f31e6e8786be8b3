-- Active jobs of workers that stopped heart-beating: lease deadline set to now, so the
-- next reap recovers them at once. ARGV: queue, claimed_before (the server's time), live
-- worker ids (JSON list), offset, limit. Jobs claimed at or after claimed_before are spared.
-- Looks at most at `limit` unexpired leases, from rank `offset` among them (by rank, not
-- score: O(log n) to reach). The caller walks in batches: jobs expired here leave the
-- unexpired range and the spared ones stay, so the next batch starts at offset + spared.
-- Returns {ids examined, {expired ids}}.
local queue, before = ARGV[1], tonumber(ARGV[2])
local offset, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
local live = {}
for _, worker in ipairs(cjson.decode(ARGV[3])) do live[worker] = true end
local active = qkey(queue, Q.ACTIVE)
local first = redis.call('ZCOUNT', active, '-inf', NOW_TEXT) + offset
local ids = redis.call('ZRANGE', active, first, first + limit - 1)
local expired = {}
for _, id in ipairs(ids) do
  local rec = redis.call('HMGET', job_key(id), 'worker', 'started_at')
  if rec[1] and not live[rec[1]] and rec[2] and tonumber(rec[2]) < before then
    redis.call('ZADD', active, 'XX', NOW, id)
    expired[#expired + 1] = id
  end
end
return {#ids, expired}
