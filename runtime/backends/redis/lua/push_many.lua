-- Push a batch of jobs in one call. ARGV: now, then a JSON array with one row per job:
-- [id, job, queue, data, payload, priority, eta, key, key window] ('' = none), the
-- arguments of push.lua. Returns one {id, state, deduplicated} per job, in order.
local now = ARGV[1]
local results = {}
local woken = {}  -- queue -> new waiting jobs: one wake-up call per queue, not per job
for _, row in ipairs(cjson.decode(ARGV[2])) do
  local id, job, queue, data, payload, priority, eta, key, window = unpack(row)
  local result = push_job(id, job, queue, data, payload, priority, eta, key, window, now)
  if result[2] == 'waiting' and result[3] == 0 then woken[queue] = (woken[queue] or 0) + 1 end
  results[#results + 1] = result
end
for queue, count in pairs(woken) do wake(queue, count) end
return results
