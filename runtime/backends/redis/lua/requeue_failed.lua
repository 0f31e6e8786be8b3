-- One chunk of a bulk retry (control.retry_all) in one call, with no id, name or payload
-- crossing the network: of `queue`'s failed jobs that finished at or before `upto`, oldest
-- first, look at up to `count` from rank `offset`, and requeue those named `job` ('' = any)
-- with a fresh head: `start` .. the id as JSON .. the template of its job name and priority
-- (messages.head_with_rest), or with their message kept when their job name is not in
-- `fresh`. ARGV: queue, upto, offset, count, job, fresh job names (JSON list), templates
-- (JSON object: "name|priority" -> the head after the id), start (messages.HEAD_START).
-- cjson writes an id as Python's json does, but for escaping '/': such an id makes a head
-- whose start is not its stored message's, which then stays as it is (with_head).
-- Returns {looked at, requeued, name, priority}: with a name, it stopped before the first
-- job it has no template for, so that the caller sends it and goes on from there.
local queue, upto, offset, count, only = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]),
                                         tonumber(ARGV[4]), ARGV[5]
local fresh = {}
for _, name in ipairs(cjson.decode(ARGV[6])) do fresh[name] = true end
local templates, start = cjson.decode(ARGV[7]), ARGV[8]
local entries = redis.call('ZRANGE', qkey(queue, Q.FAILED), offset, offset + count - 1,
                           'WITHSCORES')
local looked, requeued = 0, 0
for i = 1, #entries, 2 do
  if tonumber(entries[i + 1]) > upto then break end
  local id = entries[i]
  local rec = dead_record(id)
  local name, priority = rec[6], rec[3] or '0'
  if only == '' or name == only then
    local head = ''
    if fresh[name] then
      local template = templates[name .. '|' .. priority]
      if not template then
        wake(queue, requeued)
        return {looked, requeued, name, priority}
      end
      head = start .. cjson.encode(id) .. template
    end
    if requeue_job(id, rec, '', head) then requeued = requeued + 1 end
  end
  looked = looked + 1
end
wake(queue, requeued)
return {looked, requeued, false, false}
