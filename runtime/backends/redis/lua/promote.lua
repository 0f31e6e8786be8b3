-- Delayed/retrying jobs whose eta <= now become waiting, at their push-order place.
-- ARGV: queue, now ('' = the server's, see as_of), limit. Returns {ids examined, ids moved}.
local queue, now, limit = ARGV[1], as_of(ARGV[2]), tonumber(ARGV[3])
local delayed = qkey(queue, Q.DELAYED)
local ids = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, limit)
local moved = back_to_waiting(ids, queue, function(id) redis.call('ZREM', delayed, id) end)
return {#ids, #moved}
