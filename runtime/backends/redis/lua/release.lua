-- Active -> waiting at once, at its old place (ahead of later pushes). ARGV: id, token.
local id, token = unpack(ARGV)
local queue = fenced_queue(id, token)
if not queue then return 0 end
end_lease(id, queue)
local rec = redis.call('HMGET', job_key(id), 'priority', 'seq')
enqueue_waiting(id, queue, rec[1], rec[2])
wake(queue, 1)
emit_event('released', queue, id, nil)
return 1
