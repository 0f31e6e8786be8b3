-- Which of the ids (ARGV[2..]) are jobs named ARGV[1]: list_jobs' job filter, read inside
-- Redis so that only the matches cross the wire.
local wanted, matches = ARGV[1], {}
for i = 2, #ARGV do
  if redis.call('HGET', job_key(ARGV[i]), 'job') == wanted then matches[#matches + 1] = ARGV[i] end
end
return matches
