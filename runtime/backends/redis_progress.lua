-- Record progress on an active job. ARGV: id, token, progress (JSON). Returns 1 or 0.
local id, token, progress = unpack(ARGV)
if not fenced_queue(id, token) then return 0 end
redis.call('HSET', job_key(id), 'progress', progress)
return 1
