"""What the whole runtime looks like: `runtime status`, the dashboard's home snapshot,
workers with their running and stalled jobs, and the cron jobs' last runs."""

from __future__ import annotations

import datetime
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from runtime import alerts, cron, events, health, stats
from runtime.backends.base.storage import Backend
from runtime.config import Config
from runtime.control.jobs import record_of, shown_record
from runtime.errors import BadInput

if TYPE_CHECKING:
    from runtime.jobs import JobRegistry


def status(backend: Backend, config: Config) -> dict[str, Any]:
    """Queues with counts and live workers, open alerts and the overall state."""
    seen = backend.overview(list(config.queues))
    rows = health.status_rows(seen)
    shown = alerts.for_status(backend, config, seen, rows)
    return {
        "backend": backend.display_url,
        "status": health.overall(shown),
        "queues": rows,
        "workers": seen.workers,
        "leader": seen.leader,
        "alerts": shown,
        "cron": cron.last_runs(seen.results),
    }


def status_exit_code(snapshot: dict[str, Any]) -> int:
    return health.SEVERITY_EXIT[snapshot["status"]]


def requeue_stalled(backend: Backend, config: Config, job_id: str) -> dict[str, Any]:
    """Hand a stalled job (its lease expired, or its worker is dead) back to its queue now
    instead of waiting for a reaper (none runs when no daemon does). It goes through the
    reaper's own transition (a stall counted, the old token fenced, the event written), so
    at `max_stalls` it is dead-lettered like any job that keeps killing its worker. A job
    a live worker holds is refused: cancel it instead. Returns `{id, job, queue, state}`."""
    record = record_of(backend, job_id)
    queue = record["queue"]
    if record["state"] != "active":
        raise BadInput(f"job {job_id} is {record['state']}; only a stalled active job is requeued.")
    live = {worker["id"] for worker in backend.workers()}
    found = _with_deadlines(backend, [record])
    if not found:
        raise BadInput(f"job {job_id} is no longer active.")
    if stall_reason(found[0], live, backend.now(), config.runtime.heartbeat_ttl()) is None:
        raise BadInput(f"job {job_id} is running under a live worker; cancel it instead.")
    if backend.cluster.expire_lease(queue, job_id):
        backend.reap_expired(queue, max_stalls=config.runtime.max_stalls)
    after = record_of(backend, job_id)
    if after["state"] == "active":  # its worker renewed the lease meanwhile: it is alive
        raise BadInput(f"job {job_id} is running again (its worker renewed the lease).")
    events.audit(backend, "job.requeue", queue=queue, job_id=job_id, job=record["job"])
    return {key: after[key] for key in ("id", "job", "queue", "state")}


def stall_reason(
    record: dict[str, Any], live: Collection[str], now: float, ttl: float
) -> str | None:
    """Why an active job (with its `lease_deadline`) is stalled, or None while it is not:
    its lease ran out, or its worker sent no heartbeat for a whole ttl and it was claimed
    before that (the daemon's own rule for taking a dead worker's jobs back)."""
    deadline = record.get("lease_deadline")
    if deadline is not None and deadline < now:
        return "lease expired"
    claimed = record.get("started_at")
    if record.get("worker") not in live and claimed is not None and claimed < now - ttl:
        return "worker gone"
    return None


def dashboard_home(backend: Backend, config: Config) -> dict[str, Any]:
    """The dashboard's home: `status` plus each queue's latency and last 60 minutes of
    throughput, today's totals and the backend's clock (`now`, for ages)."""
    seen = backend.overview(list(config.queues))
    rows = health.status_rows(seen)
    names = [row["name"] for row in rows]
    latency = _latencies(backend, names, seen.now)
    # The overview's clock reading: no second and third round trip for `now`.
    minutes = stats.recent_minutes(backend, names, 60, seen.now)
    today = stats.today_counts(backend, names, seen.now)
    for row in rows:
        row["latency"] = latency[row["name"]]
        row["minutes"] = [m["completed"] + m["failed"] for m in minutes[row["name"]]]
        row["per_minute"] = round(sum(row["minutes"][-5:]) / 5, 2)
    overall = [sum(row["minutes"][i] for row in rows) for i in range(60)]
    processed = today["completed"] + today["failed"]
    return {
        "backend": backend.display_url,
        "now": seen.now,
        "queues": rows,
        "workers": seen.workers,
        "leader": seen.leader,
        "alerts": alerts.for_status(backend, config, seen, rows),
        "totals": {
            "processed_today": processed,
            "failed_today": today["failed"],
            "per_minute": round(sum(overall[-5:]) / 5, 2),
            "success_rate": round(today["completed"] / processed, 4) if processed else None,
            "minutes": overall,
        },
    }


def _latencies(backend: Backend, queues: list[str], now: float) -> dict[str, float | None]:
    """Seconds the oldest waiting job of each queue has waited (None: none waits)."""
    oldest = backend.oldest_waiting(queues)
    return {
        name: None if since is None else max(now - since, 0.0) for name, since in oldest.items()
    }


# Active jobs the workers screen looks at for stalled ones, soonest lease deadline first
# (expired leases come first): a refresh never reads a whole big active set.
ACTIVE_SCAN = 500


def workers_overview(backend: Backend, config: Config) -> dict[str, Any]:
    """The dashboard's workers screen: live heartbeats, each `stale` once its last beat is
    older than two intervals (one more missed and it counts as dead), with `running`: how
    long each of its current jobs has run; and the `stalled` jobs (`stall_reason`), which
    `requeue_stalled` hands back. Ages are on the backend's clock (`now`)."""
    now = backend.now()
    workers = backend.workers()
    active = _with_deadlines(backend, backend.list_jobs(None, "active", limit=ACTIVE_SCAN).jobs)
    started = {record["id"]: record.get("started_at") for record in active}
    stale_after = 2 * config.runtime.heartbeat_interval
    live = {worker["id"] for worker in workers}
    ttl = config.runtime.heartbeat_ttl()
    stalled = []
    for record in active:
        reason = stall_reason(record, live, now, ttl)
        if reason is not None:
            stalled.append({**shown_record(record, now), "reason": reason})
    return {
        "now": now,
        "workers": [
            {
                **worker,
                "stale": now - float(worker.get("heartbeat") or now) > stale_after,
                "running": _running(worker, started, now),
            }
            for worker in workers
        ],
        "stalled": stalled,
    }


def _running(
    worker: dict[str, Any], started: dict[str, float | None], now: float
) -> dict[str, float | None]:
    """Seconds each of the worker's current jobs has run (None: not among those read)."""
    since = {job_id: started.get(job_id) for job_id in worker.get("current_jobs") or []}
    return {job_id: None if at is None else now - at for job_id, at in since.items()}


def _with_deadlines(backend: Backend, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Active `records` with their `lease_deadline`, one read per queue; those that left
    the active state meanwhile are dropped."""
    by_queue: dict[str, list[str]] = {}
    for record in records:
        by_queue.setdefault(record["queue"], []).append(record["id"])
    deadlines: dict[str, float] = {}
    for queue, ids in by_queue.items():
        deadlines.update(backend.cluster.lease_deadlines(queue, ids))
    return [{**r, "lease_deadline": deadlines[r["id"]]} for r in records if r["id"] in deadlines]


def cron_jobs(backend: Backend, registry: JobRegistry) -> list[dict[str, Any]]:
    """Each registered cron job with its schedule and queue, its last fired tick and the
    daemon that fired it (None when it never ran on this backend), and its next tick on
    the backend's clock (None when none comes within cron.NEXT_RUN_HORIZON). Ticks are
    UTC minutes, as `runtime status` prints them."""
    last = {run["job"]: run for run in cron.last_runs(backend.result_items())}
    now = datetime.datetime.fromtimestamp(backend.now(), datetime.UTC).replace(tzinfo=None)
    return [
        {
            "job": spec.name,
            "cron": spec.cron,
            "queue": spec.queue,
            "last_tick": last.get(spec.name, {}).get("tick"),
            "by": last.get(spec.name, {}).get("by"),
            "next_run": _tick(cron.next_run(spec, now)),
        }
        for spec in sorted(registry, key=lambda s: s.name)
        if spec.cron
    ]


def _tick(minute: datetime.datetime | None) -> str | None:
    return None if minute is None else minute.strftime(cron.TICK_FORMAT)


def run_cron_now(backend: Backend, config: Config, registry: JobRegistry, job: str) -> str:
    """Enqueue one run of the cron job `job` now, on its queue, as a producer enqueues
    any job (its ticks go on as scheduled); audited as `cron.run_now`. Returns the id."""
    from runtime.producer import Runtime  # the producer's enqueue path, not a copy of it

    spec = registry.get(job) if job in registry else None
    if spec is None or not spec.cron:
        raise BadInput(f"{job} is not a cron job loaded here; only those can be run now.")
    job_id = Runtime(backend, config=config, registry=registry).enqueue(spec.name)
    events.audit(backend, "cron.run_now", queue=spec.queue, job_id=job_id, job=spec.name)
    return job_id
