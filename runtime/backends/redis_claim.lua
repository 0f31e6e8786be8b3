-- Move the next waiting job to active under a new lease, in one step (never lost).
-- ARGV: queue, token, now, deadline, worker. Returns {id, data, attempts} or nil when empty.
local queue, token, now, deadline, worker = unpack(ARGV)
local waiting = qkey(queue, Q.WAITING)

while true do
  local popped = redis.call('ZPOPMIN', waiting)
  if #popped == 0 then return false end
  local id = popped[1]
  local jk = job_key(id)
  local state = redis.call('HGET', jk, 'state')
  -- An id whose record was deleted or already finished is dropped, not claimed.
  if state and not FINAL[state] then
    redis.call('ZADD', qkey(queue, Q.ACTIVE), deadline, id)
    local attempts = redis.call('HINCRBY', jk, 'attempts', 1)
    redis.call('HSET', jk, 'state', 'active', 'token', token, 'started_at', now,
               'worker', worker)
    return {id, redis.call('HGET', jk, 'data'), attempts}
  end
end
