"""The SQLite backend: the embedded default, one database file for every local process.

One module per concern, as in base/:
- storage.py: SqliteBackend (push, claim, renew, complete, retry, fail, reads, admin);
  schema.py the `jobs` table, its indexes and triggers, and the SQL of the hot paths (a
  claim is SQL_CLAIM); records.py maps rows to records.
- connection.py: the file's connection and its read and write transactions.
- events.py (written by triggers on `jobs`), alerts.py, metrics.py, cluster.py (leader,
  dead workers), cancellation.py, kv.py (the part of Huey's storage protocol the engine
  uses, on Huey's own tables).

Only `runtime.backends.open_backend` imports this package, for sqlite:/// URLs.
"""
