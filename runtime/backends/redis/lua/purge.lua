-- Delete jobs of one final state by finish time: those finished before `before` and those
-- beyond the newest `keep`. Both select the oldest members of the finish-time set, so
-- together they select the longer of the two: counted in O(log n), then one range read.
-- ARGV: queue, state, before ('' = no age bound), keep ('' = no count bound), limit.
-- Returns {ids examined, records deleted}. The completed total is left alone.
local queue, state, before, keep, limit = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local finished = qkey(queue, FINAL[state])
local count = 0
if before ~= '' then count = redis.call('ZCOUNT', finished, '-inf', '(' .. before) end
if keep ~= '' then count = math.max(count, redis.call('ZCARD', finished) - tonumber(keep)) end
if count <= 0 then return {0, 0} end

local ids = redis.call('ZRANGE', finished, 0, math.min(count, limit) - 1)
local deleted = 0
for _, id in ipairs(ids) do
  redis.call('ZREM', finished, id)
  -- A stale entry (record gone, or in another state) only leaves the set.
  if redis.call('HGET', job_key(id), 'state') == state then
    free_key(id)
    redis.call('ZREM', ALL_JOBS_KEY, id)
    redis.call('ZREM', qkey(queue, Q.JOBS), id)
    redis.call('DEL', job_key(id))
    deleted = deleted + 1
  end
end
return {#ids, deleted}
