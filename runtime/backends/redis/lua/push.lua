-- Push one job. ARGV: id, job, queue, data (the message, which holds the payload: stored
-- once), priority, delay (seconds), key, key window (seconds) ('' = none). Returns {id, state, deduplicated (0/1)}.
local result = push_job(unpack(ARGV))
if result[2] == 'waiting' and result[3] == 0 then wake(ARGV[3], 1) end
return result
