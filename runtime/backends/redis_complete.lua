-- Active -> completed. ARGV: id, token, result (JSON, '' = none), now. Returns 1 or 0.
local id, token, result, now = unpack(ARGV)
local queue = fenced_queue(id, token)
if not queue then return 0 end
end_lease(id, queue)
local jk = job_key(id)
redis.call('HSET', jk, 'state', 'completed', 'finished_at', now)
if result == '' then
  redis.call('HDEL', jk, 'result')
else
  redis.call('HSET', jk, 'result', result)
end
redis.call('ZADD', qkey(queue, Q.COMPLETED), now, id)
redis.call('INCR', qkey(queue, Q.COMPLETED_TOTAL))
free_key(id)
return 1
