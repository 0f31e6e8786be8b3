-- Active jobs whose lease deadline < now go back to waiting at their old place; the
-- token is dropped so the lost worker's late acks are fenced off.
-- ARGV: queue, now, limit. Returns {ids examined, ids moved}.
local queue, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local active = qkey(queue, Q.ACTIVE)
local ids = redis.call('ZRANGEBYSCORE', active, '-inf', '(' .. now, 'LIMIT', 0, limit)
local moved = back_to_waiting(ids, queue, function(id) end_lease(id, queue) end)
return {#ids, moved}
