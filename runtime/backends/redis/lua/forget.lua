-- Forget a queue that holds no job: it leaves the known set (what `runtime status`, clean
-- and retention visit) with its pause flag, completed total, markers and empty sets. The
-- check and the removal are one step: a push either comes first and keeps the queue, or
-- after and makes it known again. ARGV: queue. Returns how many jobs it holds (0: gone).
local queue = ARGV[1]
local held = redis.call('ZCARD', qkey(queue, Q.JOBS))
if held > 0 then return held end
redis.call('SREM', QUEUES_KEY, queue)
redis.call('SREM', PAUSED_KEY, queue)
local names = {}
for _, suffix in pairs(Q) do names[#names + 1] = qkey(queue, suffix) end
redis.call('DEL', unpack(names))
return 0
