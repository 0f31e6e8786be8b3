-- Ack a job and claim the next one in one round trip.
-- ARGV: id, token, result ('' = none), queue, next token, now, deadline, worker.
-- Returns {completed 1/0, {id, data, attempts} or nil}.
local id, token, result, queue, next_token, now, deadline, worker = unpack(ARGV)
local done = complete_job(id, token, result, now)
return {done, claim_next(queue, next_token, now, deadline, worker)}
