-- Extend a lease. ARGV: id, token, deadline. Returns 1, or 0 if the token is stale.
local id, token, deadline = unpack(ARGV)
local queue = fenced_queue(id, token)
if not queue then return 0 end
redis.call('ZADD', qkey(queue, Q.ACTIVE), 'XX', deadline, id)
return 1
