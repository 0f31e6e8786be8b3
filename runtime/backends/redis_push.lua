-- Store a job record and queue it, or return the pending job holding the same key.
-- ARGV: id, job, queue, data, payload (JSON), priority, eta, key, now ('' = none)
-- Returns {id, state, deduplicated (0/1)}.
local id, job, queue, data, payload, priority, eta, key, now = unpack(ARGV)

if key ~= '' then
  local existing = redis.call('HGET', IDEMPOTENCY_KEY, key)
  if existing then
    local state = redis.call('HGET', job_key(existing), 'state')
    if state and not FINAL[state] then return {existing, state, 1} end
  end
  redis.call('HSET', IDEMPOTENCY_KEY, key, id)
end

local seq = redis.call('INCR', SEQ_KEY)
local delayed = eta ~= '' and tonumber(eta) > tonumber(now)
local state = delayed and 'delayed' or 'waiting'
local fields = {'id', id, 'job', job, 'queue', queue, 'state', state, 'attempts', 0,
                'priority', priority, 'payload', payload, 'enqueued_at', now,
                'data', data, 'seq', seq}
if key ~= '' then table.insert(fields, 'key'); table.insert(fields, key) end
if eta ~= '' then table.insert(fields, 'eta'); table.insert(fields, eta) end
redis.call('HSET', job_key(id), unpack(fields))

redis.call('ZADD', ALL_JOBS_KEY, seq, id)
redis.call('ZADD', qkey(queue, Q.JOBS), seq, id)
redis.call('SADD', QUEUES_KEY, queue)
if delayed then
  redis.call('ZADD', qkey(queue, Q.DELAYED), eta, id)
else
  redis.call('ZADD', qkey(queue, Q.WAITING), -tonumber(priority) * 1e13 + seq, id)
  wake(queue, 1)
end
return {id, state, 0}
