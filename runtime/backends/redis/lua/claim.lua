-- Claim the next waiting job. ARGV: queue, token, lease (seconds), worker.
-- Returns claim_next's reply, or nil when empty.
return claim_next(unpack(ARGV))
