-- Active -> retrying: back to the delayed set at eta with the new message.
-- ARGV: id, token, data, eta, error (JSON). Returns 1, or 0 if the token is stale.
local id, token, data, eta, err = unpack(ARGV)
local queue = fenced_queue(id, token)
if not queue then return 0 end
end_lease(id, queue)
redis.call('HSET', job_key(id), 'state', 'retrying', 'data', data, 'eta', eta, 'error', err)
redis.call('ZADD', qkey(queue, Q.DELAYED), eta, id)
emit_event('retrying', queue, id, nil, 'error', event_error(err), 'eta', eta)
return 1
