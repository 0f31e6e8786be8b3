-- Failed or canceled -> waiting at its old place (ahead of later pushes), as release does:
-- `runtime job retry`. ARGV: id, data (the new message, '' = keep the stored one).
-- Returns 1, or 0 (nothing changed) in any other state or for an unknown id.
local id, data = unpack(ARGV)
local jk = job_key(id)
local rec = redis.call('HMGET', jk, 'state', 'queue', 'priority', 'seq', 'key', 'job')
local state, queue, priority, seq, key = rec[1], rec[2], rec[3], rec[4], rec[5]
if state ~= 'failed' and state ~= 'canceled' then return 0 end

redis.call('ZREM', qkey(queue, FINAL[state]), id)
redis.call('HDEL', jk, 'error', 'finished_at', 'stalls', 'progress', 'token')
if data ~= '' then redis.call('HSET', jk, 'data', data) end
if key then
  -- Take the key back only if no pending job holds it (window 0: a finished holder,
  -- this job included, lets it go); a pending job that took it meanwhile keeps it, and
  -- this record stops naming a key it does not hold (as on SQLite).
  if key_holder(key, 0, 0) then
    redis.call('HDEL', jk, 'key')
  else
    redis.call('HSET', IDEMPOTENCY_KEY, key, id)
  end
end
enqueue_waiting(id, queue, priority, seq)
wake(queue, 1)
emit_event('retried', queue, id, rec[6])
return 1
