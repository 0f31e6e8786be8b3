-- Extend the leases of many claims at once. ARGV: lease (seconds), then id, token pairs.
-- Returns the ids whose lease was extended (the others' tokens are stale).
local deadline = from_now(ARGV[1])
local renewed = {}
for i = 2, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local queue = fenced_queue(id, token)
  if queue then
    redis.call('ZADD', qkey(queue, Q.ACTIVE), 'XX', deadline, id)
    renewed[#renewed + 1] = id
  end
end
return renewed
