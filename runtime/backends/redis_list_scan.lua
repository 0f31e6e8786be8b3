-- Walk an enqueue-order index newest first from rank `start`, collecting the ids of jobs
-- in `state`; examines at most `budget` entries so one call never blocks Redis for long.
-- KEYS[1]: the index. ARGV: state, start, want, budget.
-- Returns {next start rank, or -1 once the index is exhausted, id, id, ...}.
local state, start, want, budget = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ids = redis.call('ZREVRANGE', KEYS[1], start, start + budget - 1)
local result = {-1}
for i, id in ipairs(ids) do
  if redis.call('HGET', job_key(id), 'state') == state then
    result[#result + 1] = id
    if #result - 1 == want then
      result[1] = start + i
      return result
    end
  end
end
if #ids == budget then result[1] = start + budget end
return result
