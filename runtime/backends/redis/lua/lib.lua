-- Shared helpers, prepended (after the key names from keys.lua_prelude) to every
-- script. Numbers go to redis.call as Lua numbers, never through string concatenation:
-- Lua's tostring keeps only 14 digits, redis.call converts them exactly.

-- The one clock is the server's: every deadline, due time, window and expiry a script sets
-- or compares is read here, once per call, never taken from a client (hosts' clocks
-- disagree; a reaper 15 s ahead would take every live lease). NOW_TEXT is its exact text,
-- for range bounds such as '(' .. NOW_TEXT, and for replies (a Lua number returned from a
-- script is cut to an integer).
local SERVER_TIME = redis.call('TIME')
local NOW_TEXT = SERVER_TIME[1] .. '.' .. string.format('%06d', tonumber(SERVER_TIME[2]))
local NOW = tonumber(NOW_TEXT)

-- `arg` ('' = absent) seconds from now on the server clock, or nil when absent.
local function from_now(arg)
  if arg == nil or arg == '' then return nil end
  return NOW + tonumber(arg)
end

-- The time a periodic script looks at: the server's, unless the caller looks ahead (a
-- test; an operator promoting everything due within an hour). As text, for range bounds.
local function as_of(arg)
  if arg == nil or arg == '' then return NOW_TEXT end
  return arg
end

-- A time as reply text, exactly (17 significant digits round-trip a double).
local function time_text(t)
  return string.format('%.17g', t)
end

-- Final states, each with the per-queue set that holds its jobs scored by finish time.
local FINAL = {completed = Q.COMPLETED, failed = Q.FAILED, canceled = Q.CANCELED}

-- Append a lifecycle event to the capped event stream, in the script that makes the
-- transition (RedisEventLog reads it). `queue` and `job` may be nil: they are then read
-- from the record. `...`: extra field names and values, each value JSON text (e.g.
-- cjson.encode(s) for a string, a number as is). The ts is the stream id's milliseconds.
local function emit_event(event_type, queue, id, job, ...)
  if not queue or not job then
    local rec = redis.call('HMGET', job_key(id), 'queue', 'job')
    queue, job = queue or rec[1] or '', job or rec[2] or ''
  end
  redis.call('XADD', EVENTS_KEY, 'MAXLEN', '~', EVENTS_CAP, '*',
             'type', event_type, 'queue', queue, 'job_id', id, 'job', job, ...)
end

-- The error of an event: {type, message} of the error JSON `err`, without the traceback
-- (long, and it may quote personal data), as JSON text.
local function event_error(err)
  local e = cjson.decode(err)
  return cjson.encode({type = e.type, message = e.message})
end

-- Make a job claimable. The score puts higher priorities first and, within one, orders by
-- the push sequence number: a job coming back (promoted, released, reaped) keeps its place
-- ahead of later pushes, as on SQLite.
local function enqueue_waiting(id, queue, priority, seq)
  redis.call('HSET', job_key(id), 'state', 'waiting')
  redis.call('ZADD', qkey(queue, Q.WAITING), -tonumber(priority) * 1e13 + tonumber(seq), id)
end

-- One wake-up marker per claimable job, capped so the list cannot grow without bound.
local function wake(queue, count)
  if count <= 0 then return end
  local marks = {}
  for i = 1, math.min(count, MARKER_CAP) do marks[i] = '1' end
  local key = qkey(queue, Q.MARKER)
  redis.call('LPUSH', key, unpack(marks))
  redis.call('LTRIM', key, 0, MARKER_CAP - 1)
end

-- Fencing: the queue of an active job whose lease token matches, else nil.
local function fenced_queue(id, token)
  local rec = redis.call('HMGET', job_key(id), 'token', 'queue')
  if rec[1] ~= token or not rec[2] then return nil end
  if not redis.call('ZSCORE', qkey(rec[2], Q.ACTIVE), id) then return nil end
  return rec[2]
end

-- Leave the active set and invalidate the token, so late acks are ignored; leave the
-- claiming worker's index too (worker_jobs.lua).
local function end_lease(id, queue)
  redis.call('ZREM', qkey(queue, Q.ACTIVE), id)
  redis.call('HDEL', job_key(id), 'token')
  local worker = redis.call('HGET', job_key(id), 'worker')
  if worker then redis.call('SREM', WORKER_JOBS_PREFIX .. worker, id) end
end

-- A purged job frees its idempotency key, unless the key already maps to another job.
-- Final states keep the mapping (key_holder decides whether it still holds), so purge is
-- what keeps the idempotency hash from growing without bound.
local function free_key(id)
  local key = redis.call('HGET', job_key(id), 'key')
  if key and redis.call('HGET', IDEMPOTENCY_KEY, key) == id then
    redis.call('HDEL', IDEMPOTENCY_KEY, key)
  end
end

-- Active (lease ended) -> failed: the dead-letter set, scored by finish time (`at`: now,
-- or the time a reap looks at).
local function dead_letter(id, queue, err, at)
  at = at or NOW
  redis.call('HSET', job_key(id), 'state', 'failed', 'error', err, 'finished_at', at)
  redis.call('ZADD', qkey(queue, Q.FAILED), at, id)
end

-- The job holding idempotency `key`, and its state; nil when the key is free. The job the
-- key maps to holds it while pending, and once final while it finished less than `window`
-- seconds before now (window 0: not at all). A deleted job holds nothing.
local function key_holder(key, window)
  local holder = redis.call('HGET', IDEMPOTENCY_KEY, key)
  if not holder then return nil end
  local rec = redis.call('HMGET', job_key(holder), 'state', 'finished_at')
  local state, finished_at = rec[1], rec[2]
  if not state then return nil end
  if not FINAL[state] then return holder, state end
  window = tonumber(window) or 0
  if window > 0 and finished_at and tonumber(finished_at) > NOW - window then
    return holder, state
  end
  return nil
end

-- Move the next waiting job to active under a new lease of `lease` seconds, in one step
-- (never lost). Returns {id, data, attempts, seconds it waited ('' = unknown), lease
-- deadline} or false when the queue is empty.
local function claim_next(queue, token, lease, worker)
  local waiting = qkey(queue, Q.WAITING)
  local deadline = NOW + tonumber(lease)
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
      redis.call('HSET', jk, 'state', 'active', 'token', token, 'started_at', NOW,
                 'worker', worker)
      redis.call('SADD', WORKER_JOBS_PREFIX .. worker, id)  -- its heartbeat's index
      local rec = redis.call('HMGET', jk, 'data', 'job', 'enqueued_at', 'eta')
      emit_event('started', queue, id, rec[2], 'attempt', attempts)
      -- The wait (Claim.wait, for the metric): since it became claimable.
      local ready = tonumber(rec[3])
      if ready and rec[4] and tonumber(rec[4]) > ready then ready = tonumber(rec[4]) end
      local waited = ready and time_text(math.max(NOW - ready, 0)) or ''
      return {id, rec[1], attempts, waited, time_text(deadline)}
    end
  end
end

-- Active -> completed (result '' = none). Returns 1, or 0 when the token is stale.
local function complete_job(id, token, result)
  local queue = fenced_queue(id, token)
  if not queue then return 0 end
  end_lease(id, queue)
  local jk = job_key(id)
  redis.call('HSET', jk, 'state', 'completed', 'finished_at', NOW)
  if result == '' then
    redis.call('HDEL', jk, 'result')
  else
    redis.call('HSET', jk, 'result', result)
  end
  redis.call('ZADD', qkey(queue, Q.COMPLETED), NOW, id)
  redis.call('INCR', qkey(queue, Q.COMPLETED_TOTAL))
  emit_event('completed', queue, id, nil)
  return 1
end

-- Store a job record and queue it, or return the job holding the same key (key_holder,
-- with this push's window). `delay` ('' = none): seconds until it is due. Returns {id, state, deduplicated (0/1)}. The caller wakes a
-- worker for a waiting job.
local function push_job(id, job, queue, data, priority, delay, key, window)
  if key ~= '' then
    local holder, state = key_holder(key, window)
    if holder then return {holder, state, 1} end
    redis.call('HSET', IDEMPOTENCY_KEY, key, id)
  end

  local seq = redis.call('INCR', SEQ_KEY)
  local eta = from_now(delay)
  local delayed = eta ~= nil and eta > NOW
  local state = delayed and 'delayed' or 'waiting'
  local fields = {'id', id, 'job', job, 'queue', queue, 'state', state, 'attempts', 0,
                  'priority', priority, 'enqueued_at', NOW,
                  'data', data, 'seq', seq}
  if key ~= '' then table.insert(fields, 'key'); table.insert(fields, key) end
  if eta then table.insert(fields, 'eta'); table.insert(fields, eta) end
  redis.call('HSET', job_key(id), unpack(fields))

  redis.call('ZADD', ALL_JOBS_KEY, seq, id)
  redis.call('ZADD', qkey(queue, Q.JOBS), seq, id)
  redis.call('SADD', QUEUES_KEY, queue)
  if delayed then
    redis.call('ZADD', qkey(queue, Q.DELAYED), eta, id)
  else
    redis.call('ZADD', qkey(queue, Q.WAITING), -tonumber(priority) * 1e13 + seq, id)
  end
  emit_event('enqueued', queue, id, job, 'state', cjson.encode(state))
  return {id, state, 0}
end

-- Put ids back in waiting at their push-order place (jobs that finished meanwhile are
-- only dropped); `leave(id)` first takes each out of the set it was in. Returns the
-- ids moved, with one wake-up marker each.
local function back_to_waiting(ids, queue, leave)
  local moved = {}
  for _, id in ipairs(ids) do
    leave(id)
    local rec = redis.call('HMGET', job_key(id), 'state', 'priority', 'seq')
    if rec[1] and not FINAL[rec[1]] then
      enqueue_waiting(id, queue, rec[2], rec[3])
      moved[#moved + 1] = id
    end
  end
  wake(queue, #moved)
  return moved
end

-- Requeue (requeue.lua, requeue_failed.lua) ----------------------------------------------
-- What requeue_job reads of a job, in one HMGET: state, queue, priority, seq, key, job and
-- its message.
local function dead_record(id)
  return redis.call('HMGET', job_key(id), 'state', 'queue', 'priority', 'seq', 'key', 'job',
                    'data')
end

-- The stored message `data` with `head` for its own, when it is compose's for this job: it
-- starts as `head` does up to its id, and its head ends at the first ',"payload":' after
-- that (no job name or option value can hold that text). nil for another shape.
local function with_head(data, head)
  local job_at = string.find(head, ',"job":', 1, true)
  if not data or not job_at or string.sub(data, 1, job_at) ~= string.sub(head, 1, job_at) then
    return nil
  end
  local at = string.find(data, ',"payload":', job_at, true)
  return at and head .. string.sub(data, at + 11) or nil
end

-- A failed or canceled job (`rec` from dead_record) back to waiting at its old place; its
-- message becomes `data`, or keeps its payload under `head` (messages.compose_head), or
-- stays ('' for either). Returns its queue, or nil when it was not failed or canceled.
-- The caller wakes the queue.
local function requeue_job(id, rec, data, head)
  local state, queue, priority, seq, key = rec[1], rec[2], rec[3], rec[4], rec[5]
  if state ~= 'failed' and state ~= 'canceled' then return nil end
  local jk = job_key(id)
  redis.call('ZREM', qkey(queue, FINAL[state]), id)
  redis.call('HDEL', jk, 'error', 'finished_at', 'stalls', 'progress', 'token')
  local fresh = data ~= '' and data or (head ~= '' and with_head(rec[7], head))
  if fresh then redis.call('HSET', jk, 'data', fresh) end
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
  emit_event('retried', queue, id, rec[6])
  return queue
end
