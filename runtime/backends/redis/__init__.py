"""The Redis backend: production, one Redis shared by every daemon on every host.

One module per concern, as in base/:
- storage.py: RedisBackend (push, claim, renew, complete, retry, fail, reads, admin);
  records.py encodes script arguments and decodes job hashes; scripts.py loads the Lua.
- lua/: one script per state change (lua/claim.lua is a claim, lua/reap.lua hands expired
  leases back), lib.lua their shared helpers; every transition is one atomic script.
- keys.py: every key name, and the Lua definitions generated from them.
- events.py, alerts.py, metrics.py, cluster.py (leader, dead workers), cancellation.py,
  kv.py (the part of Huey's storage protocol the engine uses).

Only `runtime.backends.open_backend` imports this package, for redis:// URLs.
"""
