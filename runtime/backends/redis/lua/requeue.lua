-- Failed or canceled -> waiting at its old place (ahead of later pushes), as release does:
-- `runtime job retry`, and the dashboard's retry of a group. ARGV: (id, data, head)
-- triples; data is the new message ('' = keep the stored one); head ('' = none) takes the
-- place of the stored message's own head, the payload staying where it is (lib.lua's
-- requeue_job), so that a bulk retry sends no payloads. Returns how many were requeued:
-- jobs in any other state and unknown ids are left as they are.
local woken = {}  -- queue -> jobs made claimable: one wake-up call per queue, not per job
local requeued = 0
for i = 1, #ARGV, 3 do
  local id = ARGV[i]
  local queue = requeue_job(id, dead_record(id), ARGV[i + 1], ARGV[i + 2])
  if queue then
    woken[queue] = (woken[queue] or 0) + 1
    requeued = requeued + 1
  end
end
for queue, count in pairs(woken) do wake(queue, count) end
return requeued
