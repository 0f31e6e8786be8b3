-- Record progress on an active job. ARGV: id, token, progress (JSON). Returns 1 or 0.
local id, token, progress = unpack(ARGV)
local queue = fenced_queue(id, token)
if not queue then return 0 end
redis.call('HSET', job_key(id), 'progress', progress)
emit_event('progress', queue, id, nil, 'progress', progress)
return 1
