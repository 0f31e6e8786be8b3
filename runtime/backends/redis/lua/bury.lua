-- Dead-letter a message that cannot run, as a new failed record.
-- ARGV: id, queue, job, data, error (JSON).
local id, queue, job, data, err = unpack(ARGV)
local seq = redis.call('INCR', SEQ_KEY)
local jk = job_key(id)
redis.call('HSET', jk, 'id', id, 'job', job, 'queue', queue, 'state', 'failed',
           'attempts', 0, 'priority', 0, 'error', err, 'data', data, 'seq', seq,
           'enqueued_at', NOW, 'finished_at', NOW)
redis.call('ZADD', ALL_JOBS_KEY, seq, id)
redis.call('ZADD', qkey(queue, Q.JOBS), seq, id)
redis.call('ZADD', qkey(queue, Q.FAILED), NOW, id)
redis.call('SADD', QUEUES_KEY, queue)
emit_event('failed', queue, id, job, 'error', event_error(err))
return id
