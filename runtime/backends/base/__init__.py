"""The interfaces every backend implements, one module per concern:

- `storage`: `Backend`, the one object `open_backend` returns: job records, leases
  (push, claim, renew, complete, retry, fail), reads (records, pages, counts, the status
  overview) and queue administration; the value types it passes (`NewJob`, `Claim`, ...).
- `events`: `EventLog`, the capped stream of lifecycle and control events.
- `alerts`: `AlertStore`, alerts and their history.
- `metrics`: `MetricStore`, per-minute and daily job metrics, and `MetricBucket`, the
  packed format both backends store them in.
- `cluster`: `Cluster`, the leading daemon and the leases of dead workers.
- `cancellation`: `Cancellation`, canceling waiting and running jobs.

A Backend carries the other five as attributes (`backend.events`, `backend.alerts`,
`backend.metrics`, `backend.cluster`, `backend.cancels`). Each backend package
(`runtime.backends.redis`, `runtime.backends.sqlite`) has a module of the same name for
each concern.
"""
