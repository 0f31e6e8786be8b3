-- Ack a job and claim the next one in one round trip.
-- ARGV: id, token, result ('' = none), queue, next token, lease (seconds), worker.
-- Returns {completed 1/0, claim_next's reply or nil}.
local id, token, result, queue, next_token, lease, worker = unpack(ARGV)
local done = complete_job(id, token, result)
return {done, claim_next(queue, next_token, lease, worker)}
