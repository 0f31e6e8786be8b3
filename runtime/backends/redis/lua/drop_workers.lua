-- Drop expired worker heartbeats, unless a worker re-published meanwhile.
-- ARGV: worker id, the value read as expired, ... Returns how many were dropped.
local dropped = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', WORKERS_KEY, ARGV[i]) == ARGV[i + 1] then
    dropped = dropped + redis.call('HDEL', WORKERS_KEY, ARGV[i])
  end
end
return dropped
