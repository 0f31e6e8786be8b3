-- Active jobs whose lease deadline < now go back to waiting at their old place; the
-- token is dropped so the lost worker's late acks are fenced off.
-- ARGV: queue, now, limit. Returns {ids examined, ids moved}.
local queue, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local active = qkey(queue, Q.ACTIVE)
local ids = redis.call('ZRANGEBYSCORE', active, '-inf', '(' .. now, 'LIMIT', 0, limit)
local moved = 0
for _, id in ipairs(ids) do
  end_lease(id, queue)
  local rec = redis.call('HMGET', job_key(id), 'state', 'priority', 'seq')
  if rec[1] and not FINAL[rec[1]] then
    enqueue_waiting(id, queue, rec[2], rec[3])
    moved = moved + 1
  end
end
wake(queue, moved)
return {#ids, moved}
