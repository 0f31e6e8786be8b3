-- A chunk of one final state's index for bulk actions, oldest first: jobs that finished at
-- or before `upto`, from rank `offset` among them (by rank: O(log n) to reach, where a
-- score range with an offset walks it). ARGV: queue, state, upto, offset, count.
-- Returns {id, job, priority, ...} flat; a record gone meanwhile reads as job ''.
local queue, state, upto = ARGV[1], ARGV[2], tonumber(ARGV[3])
local offset, count = tonumber(ARGV[4]), tonumber(ARGV[5])
local entries = redis.call('ZRANGE', qkey(queue, FINAL[state]), offset, offset + count - 1,
                           'WITHSCORES')
local out = {}
for i = 1, #entries, 2 do
  if tonumber(entries[i + 1]) > upto then break end
  local rec = redis.call('HMGET', job_key(entries[i]), 'job', 'priority')
  out[#out + 1] = entries[i]
  out[#out + 1] = rec[1] or ''
  out[#out + 1] = rec[2] or 0
end
return out
