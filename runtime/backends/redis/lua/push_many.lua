-- Push a batch of jobs in one call. ARGV: a JSON array with one row per job:
-- [id, job, queue, data, priority, delay, key, key window] ('' = none), the
-- arguments of push.lua. Returns one {id, state, deduplicated} per job, in order.
local results = {}
local woken = {}  -- queue -> new waiting jobs: one wake-up call per queue, not per job
for _, row in ipairs(cjson.decode(ARGV[1])) do
  local result = push_job(unpack(row))
  local queue = row[3]
  if result[2] == 'waiting' and result[3] == 0 then woken[queue] = (woken[queue] or 0) + 1 end
  results[#results + 1] = result
end
for queue, count in pairs(woken) do wake(queue, count) end
return results
