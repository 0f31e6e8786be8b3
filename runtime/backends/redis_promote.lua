-- Delayed/retrying jobs whose eta <= now become waiting, at their push-order place. ARGV: queue, now, limit. Returns {ids examined, ids moved}.
local queue, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local delayed = qkey(queue, Q.DELAYED)
local ids = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, limit)
local moved = 0
for _, id in ipairs(ids) do
  redis.call('ZREM', delayed, id)
  local rec = redis.call('HMGET', job_key(id), 'state', 'priority', 'seq')
  if rec[1] and not FINAL[rec[1]] then
    enqueue_waiting(id, queue, rec[2], rec[3])
    moved = moved + 1
  end
end
wake(queue, moved)
return {#ids, moved}
