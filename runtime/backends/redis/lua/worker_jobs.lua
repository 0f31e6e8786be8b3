-- A worker's active jobs in one queue. ARGV: queue, worker id. Returns their ids.
local queue, worker = ARGV[1], ARGV[2]
local ids = {}
for _, id in ipairs(redis.call('ZRANGE', qkey(queue, Q.ACTIVE), 0, -1)) do
  if redis.call('HGET', job_key(id), 'worker') == worker then ids[#ids + 1] = id end
end
return ids
