-- Claim the next waiting job. ARGV: queue, token, now, deadline, worker.
-- Returns {id, data, attempts} or nil when empty.
return claim_next(unpack(ARGV))
