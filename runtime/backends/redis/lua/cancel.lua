-- Cancel a job. ARGV: id, token ('' for an operator's cancel).
-- Without a token: a waiting, delayed or retrying job becomes canceled at once; an active
-- job gets a cancel request naming its claim's token, which its worker polls (a request
-- for an earlier claim never matches a later one); a final job is left alone. Returns the
-- state the job was in, or false when there is no such job.
-- With a token (the worker, once the canceled job stopped): the active job under that
-- claim becomes canceled. Returns 'active', or false when the token is stale (fencing).
local id, token = ARGV[1], ARGV[2]
local jk = job_key(id)

-- Final: finished_at and the canceled index (purge's), as every final state has.
local function to_canceled(queue)
  redis.call('HSET', jk, 'state', 'canceled', 'finished_at', NOW)
  redis.call('ZADD', qkey(queue, Q.CANCELED), NOW, id)
  emit_event('canceled', queue, id, nil)
end

if token ~= '' then
  local queue = fenced_queue(id, token)
  if not queue then return false end
  end_lease(id, queue)
  to_canceled(queue)
  return 'active'
end

local rec = redis.call('HMGET', jk, 'state', 'queue', 'token')
local state, queue, claim = rec[1], rec[2], rec[3]
if not state then return false end
if state == 'active' then
  if claim then redis.call('HSET', jk, 'cancel_requested', claim) end
elseif not FINAL[state] then
  redis.call('ZREM', qkey(queue, Q.WAITING), id)
  redis.call('ZREM', qkey(queue, Q.DELAYED), id)
  to_canceled(queue)
end
return state
