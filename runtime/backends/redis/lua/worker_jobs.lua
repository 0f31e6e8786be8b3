-- A worker's active jobs in one queue. ARGV: queue, worker id. Returns their ids.
-- Read from the worker's own index (rt:wj:{worker}, kept by claim_next and end_lease), so
-- a heartbeat costs that worker's jobs (at most its threads times its prefetch), not the
-- queue's whole active set with one HGET each, whatever the number of workers.
local queue, worker = ARGV[1], ARGV[2]
local active = qkey(queue, Q.ACTIVE)
local ids = {}
for _, id in ipairs(redis.call('SMEMBERS', WORKER_JOBS_PREFIX .. worker)) do
  if redis.call('ZSCORE', active, id) then ids[#ids + 1] = id end
end
return ids
