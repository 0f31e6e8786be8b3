-- Failed or canceled -> waiting at its old place (ahead of later pushes), as release does:
-- `runtime job retry`, and bulk retries a chunk per call. ARGV: (id, data, head) triples;
-- data is the new message ('' = keep the stored one); head ('' = none) takes the place of
-- the stored message's own head, the payload staying where it is (messages.compose_head),
-- so that a bulk retry sends no payloads. Returns how many were requeued: jobs in any
-- other state and unknown ids are left as they are.

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

-- One job; returns its queue, or nil when it was not failed or canceled.
local function requeue(id, data, head)
  local jk = job_key(id)
  -- The message only when a head replaces its own (else `job` again, for nothing).
  local rec = redis.call('HMGET', jk, 'state', 'queue', 'priority', 'seq', 'key', 'job',
                        head ~= '' and 'data' or 'job')
  local state, queue, priority, seq, key = rec[1], rec[2], rec[3], rec[4], rec[5]
  if state ~= 'failed' and state ~= 'canceled' then return nil end

  redis.call('ZREM', qkey(queue, FINAL[state]), id)
  redis.call('HDEL', jk, 'error', 'finished_at', 'stalls', 'progress', 'token')
  if data ~= '' then
    redis.call('HSET', jk, 'data', data)
  elseif head ~= '' then
    local fresh = with_head(rec[7], head)
    if fresh then redis.call('HSET', jk, 'data', fresh) end
  end
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

local woken = {}  -- queue -> jobs made claimable: one wake-up call per queue, not per job
local requeued = 0
for i = 1, #ARGV, 3 do
  local queue = requeue(ARGV[i], ARGV[i + 1], ARGV[i + 2])
  if queue then
    woken[queue] = (woken[queue] or 0) + 1
    requeued = requeued + 1
  end
end
for queue, count in pairs(woken) do wake(queue, count) end
return requeued
