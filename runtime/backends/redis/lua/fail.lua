-- Active -> failed (dead-letter). ARGV: id, token, error (JSON). Returns 1 or 0.
local id, token, err = unpack(ARGV)
local queue = fenced_queue(id, token)
if not queue then return 0 end
end_lease(id, queue)
dead_letter(id, queue, err)
emit_event('failed', queue, id, nil, 'error', event_error(err))
return 1
