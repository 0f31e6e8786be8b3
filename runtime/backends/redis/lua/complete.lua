-- Active -> completed. ARGV: id, token, result (JSON, '' = none). Returns 1 or 0.
return complete_job(unpack(ARGV))
