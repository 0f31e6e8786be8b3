-- Publish a worker's heartbeat, live for `ttl` seconds of the server's clock (a worker on a
-- clock ahead must not look live for longer, nor one behind look dead). ARGV: worker id,
-- info (JSON object), ttl. The beat is JSON {"expires_at", "beat_at", "info"}.
local worker, info, ttl = unpack(ARGV)
local beat = '{"expires_at":' .. time_text(from_now(ttl)) .. ',"beat_at":' .. NOW_TEXT
             .. ',"info":' .. info .. '}'
redis.call('HSET', WORKERS_KEY, worker, beat)
