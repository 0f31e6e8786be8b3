-- Everything `runtime status` shows, in one round trip whatever the number of queues: the
-- queues (known and `ARGV`, the configured ones), their counts (O(1) each), the paused
-- set, the worker heartbeats, Huey's result hash (cron's last runs live there), the
-- leader and the open alerts with the time of their last evaluation, and the server's time
-- (workers are live by it).
-- KEYS[1]: Huey's result hash. Returns a JSON object (cjson: an empty array reads as {}).
-- Bound: five O(1) reads per queue, for the configured queues and the known set, which
-- holds only queues in use: a queue leaves it once empty and named by nobody (forget.lua,
-- after a purge or the leading daemon's retention pass); the heartbeats are live ones
-- (expired ones are dropped), the result hash holds cron's last runs and claims with a ttl,
-- and the open alerts are at most one per rule and queue.
local names = {}
for _, name in ipairs(redis.call('SMEMBERS', QUEUES_KEY)) do names[name] = true end
for _, name in ipairs(ARGV) do names[name] = true end

local counts = {}
for name in pairs(names) do
  counts[name] = {
    waiting = redis.call('ZCARD', qkey(name, Q.WAITING)),
    delayed = redis.call('ZCARD', qkey(name, Q.DELAYED)),
    active = redis.call('ZCARD', qkey(name, Q.ACTIVE)),
    failed = redis.call('ZCARD', qkey(name, Q.FAILED)),
    completed = tonumber(redis.call('GET', qkey(name, Q.COMPLETED_TOTAL)) or 0),
  }
end
local alerts = {}
for _, id in ipairs(redis.call('HVALS', ALERTS_OPEN_KEY)) do
  alerts[#alerts + 1] = redis.call('HGETALL', ALERT_PREFIX .. id)
end
return cjson.encode({
  counts = counts,
  paused = redis.call('SMEMBERS', PAUSED_KEY),
  workers = redis.call('HGETALL', WORKERS_KEY),
  results = redis.call('HGETALL', KEYS[1]),
  leader = redis.call('GET', LEADER_KEY),
  alerts = alerts,
  alerts_evaluated = redis.call('GET', ALERTS_EVALUATED_KEY),
  now = NOW_TEXT,
})
