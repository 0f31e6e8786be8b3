-- Delete jobs that are not active, from their record and every index they are in.
-- ARGV: only (a state, '' = any but active), then ids. Returns how many were deleted
-- (active and unknown ids, and with `only` jobs in other states, are left alone).
local SETS = {waiting = Q.WAITING, delayed = Q.DELAYED, retrying = Q.DELAYED,
              completed = Q.COMPLETED, failed = Q.FAILED, canceled = Q.CANCELED}
local only = ARGV[1]
local deleted = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local rec = redis.call('HMGET', job_key(id), 'state', 'queue')
  local state, queue = rec[1], rec[2]
  if state and SETS[state] and (only == '' or state == only) then
    redis.call('ZREM', qkey(queue, SETS[state]), id)
    redis.call('ZREM', qkey(queue, Q.JOBS), id)
    redis.call('ZREM', ALL_JOBS_KEY, id)
    free_key(id)
    redis.call('DEL', job_key(id))
    deleted = deleted + 1
  end
end
return deleted
