-- Active -> retrying: back to the delayed set, due in `delay` seconds, with the new message.
-- ARGV: id, token, data, delay, error (JSON). Returns 1, or 0 if the token is stale.
local id, token, data, delay, err = unpack(ARGV)
local eta = from_now(delay)
local queue = fenced_queue(id, token)
if not queue then return 0 end
end_lease(id, queue)
redis.call('HSET', job_key(id), 'state', 'retrying', 'data', data, 'eta', eta, 'error', err)
redis.call('ZADD', qkey(queue, Q.DELAYED), eta, id)
emit_event('retrying', queue, id, nil, 'error', event_error(err), 'eta', time_text(eta))
return 1
