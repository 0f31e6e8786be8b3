-- Active jobs whose lease deadline < now lost their worker. Each loses its token (the lost
-- worker's late acks are fenced off) and gets one more stall: below max_stalls it goes back
-- to waiting at its old place; at max_stalls it is dead-lettered as Stalled, so a job that
-- kills its worker every time cannot loop for ever.
-- ARGV: queue, now ('' = the server's, see as_of), limit, max_stalls, error (JSON whose
-- one `%d` is the stall count).
-- Returns {ids examined, {recovered ids}, {stalled ids}}.
local queue, now, limit, max_stalls, err = ARGV[1], as_of(ARGV[2]), tonumber(ARGV[3]),
                                           tonumber(ARGV[4]), ARGV[5]
local active = qkey(queue, Q.ACTIVE)
local ids = redis.call('ZRANGEBYSCORE', active, '-inf', '(' .. now, 'LIMIT', 0, limit)
local stalled = {}
local stalls_of = {}  -- id -> its stall count, for the recovered events

-- Leaving the active set counts the stall. A job at max_stalls is failed right here, and
-- back_to_waiting then passes over it as it passes over every final job.
local function expire(id)
  end_lease(id, queue)
  local state = redis.call('HGET', job_key(id), 'state')
  if not state or FINAL[state] then return end  -- HINCRBY would recreate a deleted record
  local stalls = redis.call('HINCRBY', job_key(id), 'stalls', 1)
  stalls_of[id] = stalls
  if stalls >= max_stalls then
    local failure = string.format(err, stalls)
    dead_letter(id, queue, failure, now)
    stalled[#stalled + 1] = id
    emit_event('stalled', queue, id, nil, 'error', event_error(failure))
  end
end

local recovered = back_to_waiting(ids, queue, expire)
for _, id in ipairs(recovered) do
  emit_event('recovered', queue, id, nil, 'stalls', stalls_of[id])
end
return {#ids, recovered, stalled}
