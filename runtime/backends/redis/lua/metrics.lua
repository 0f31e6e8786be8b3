-- Merge sequences of metric buckets in the format of MetricBucket (runtime/backends/base/metrics.py),
-- packed two hex digits per byte as pack_buckets does: buckets one after the other, each
-- a sequence of numbers (count of counts, counts, then per histogram: length, lowest index,
-- counts), a number in octal digits with every digit but its last one plus 8.
-- KEYS[1..n]: strings (one job's minutes of one hour) or hashes (one job's days, a field
-- per day); KEYS[n + 1]: the queue's lifetime totals hash.
-- ARGV[1] = n; then 4 per merged key: field ('' = the key is a string), packed delta
-- (bucket i adds into stored bucket i), expire-at (unix seconds), prune-below ('' = never:
-- a hash whose numeric fields below it are dropped when the field is new); then
-- (field, increment) pairs for the totals hash.

local CONTINUED = {
  ['0'] = '8', ['1'] = '9', ['2'] = 'a', ['3'] = 'b',
  ['4'] = 'c', ['5'] = 'd', ['6'] = 'e', ['7'] = 'f',
}

local function hex_digits(packed)
  return (string.gsub(packed or '', '.', function(c)
    return string.format('%02x', string.byte(c))
  end))
end

local function packed(digits)
  if #digits % 2 == 1 then digits = digits .. '0' end
  return (string.gsub(digits, '..', function(pair) return string.char(tonumber(pair, 16)) end))
end

-- The numbers written in `digits`, one per call, then nil.
local function reader(digits)
  local pos = 0
  return function()
    local value = 0
    while pos < #digits do
      pos = pos + 1
      local nibble = tonumber(string.sub(digits, pos, pos), 16)
      value = value * 8 + nibble % 8
      if nibble < 8 then return value end
    end
    return nil
  end
end

local function read_hist(read)
  local hist, length = {}, read() or 0
  if length > 0 then
    local low = read() or 0
    for index = low, low + length - 1 do
      local count = read() or 0
      if count > 0 then hist[index] = count end
    end
  end
  return hist
end

local function decode(text)
  local read, buckets = reader(hex_digits(text)), {}
  for kept in read do
    local counts = {}
    for i = 1, kept do counts[i] = read() or 0 end
    buckets[#buckets + 1] = {counts, read_hist(read), read_hist(read)}
  end
  return buckets
end

local function number(n)
  local octal = string.format('%o', n)
  return (string.gsub(string.sub(octal, 1, -2), '%d', CONTINUED)) .. string.sub(octal, -1)
end

local function write_hist(out, hist)
  local low, high
  for index in pairs(hist) do
    if low == nil or index < low then low = index end
    if high == nil or index > high then high = index end
  end
  if low == nil then
    out[#out + 1] = '0'
    return
  end
  out[#out + 1] = number(high - low + 1) .. number(low)
  for index = low, high do out[#out + 1] = number(hist[index] or 0) end
end

local function empty(bucket)
  for _, n in ipairs(bucket[1]) do
    if n > 0 then return false end
  end
  return next(bucket[2]) == nil and next(bucket[3]) == nil
end

local function encode(buckets)
  local last = #buckets
  while last > 0 and empty(buckets[last]) do last = last - 1 end
  local out = {}
  for i = 1, last do
    local counts = buckets[i][1]
    local kept = #counts
    while kept > 0 and counts[kept] == 0 do kept = kept - 1 end
    out[#out + 1] = number(kept)
    for j = 1, kept do out[#out + 1] = number(counts[j]) end
    write_hist(out, buckets[i][2])
    write_hist(out, buckets[i][3])
  end
  return packed(table.concat(out))
end

local function merge(into, delta)
  for i = 1, math.max(#into[1], #delta[1]) do
    into[1][i] = (into[1][i] or 0) + (delta[1][i] or 0)
  end
  for h = 2, 3 do
    for index, count in pairs(delta[h]) do into[h][index] = (into[h][index] or 0) + count end
  end
end

local n = tonumber(ARGV[1])
local now = tonumber(redis.call('TIME')[1])
for i = 1, n do
  local key = KEYS[i]
  local field, delta, expire_at, prune_below = unpack(ARGV, 4 * i - 2, 4 * i + 1)
  local old
  if field == '' then old = redis.call('GET', key) else old = redis.call('HGET', key, field) end
  local buckets = decode(old or '')
  for index, bucket in ipairs(decode(delta)) do
    if buckets[index] == nil then buckets[index] = {{}, {}, {}} end
    merge(buckets[index], bucket)
  end
  if field == '' then
    redis.call('SET', key, encode(buckets))
  else
    redis.call('HSET', key, field, encode(buckets))
  end
  -- Only ever extend a key's life: a late flush of an older day must not shorten it.
  local ttl = redis.call('TTL', key)
  if ttl < 0 or tonumber(expire_at) > now + ttl then redis.call('EXPIREAT', key, expire_at) end
  if not old and prune_below ~= '' then
    for _, name in ipairs(redis.call('HKEYS', key)) do
      if tonumber(name) < tonumber(prune_below) then redis.call('HDEL', key, name) end
    end
  end
end
local totals = KEYS[n + 1]
for i = 4 * n + 2, #ARGV, 2 do
  redis.call('HINCRBY', totals, ARGV[i], ARGV[i + 1])
end
return n
