"""Every read and admin operation an operator uses. The CLI and the dashboard call this
module only; neither knows how a backend stores anything."""

from __future__ import annotations

import time
from typing import Any

from runtime import alerts, cron
from runtime.backends.base import COUNTED_STATES, FINAL_STATES, STATES, Backend
from runtime.config import Config
from runtime.errors import BadInput
from runtime.jobs import JobRegistry
from runtime.serializer import compose, dumps


def status(backend: Backend, config: Config) -> dict[str, Any]:
    """Queues with counts and live workers, firing alerts and the overall state."""
    workers = backend.workers()
    names = sorted(set(backend.known_queues()) | set(config.queues))
    counts = backend.queue_counts(names)
    paused = backend.paused_queues()
    rows = []
    for name in names:
        row: dict[str, Any] = {"name": name, "paused": name in paused}
        row.update({state: counts[name][state] for state in COUNTED_STATES})
        row["workers"] = sum(w.get("workers", 0) for w in workers if w.get("queue") == name)
        rows.append(row)
    firing = alerts.evaluate(rows)
    return {
        "backend": backend.display_url,
        "status": alerts.overall(firing),
        "queues": rows,
        "workers": workers,
        "alerts": firing,
        "cron": cron.last_runs(backend),
    }


def status_exit_code(snapshot: dict[str, Any]) -> int:
    return alerts.SEVERITY_EXIT[snapshot["status"]]


def list_jobs(
    backend: Backend, queue: str | None = None, state: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    if state is not None and state not in STATES:
        raise BadInput(f"unknown state '{state}'; use one of {', '.join(STATES)}.")
    if limit < 1:
        raise BadInput(f"limit must be at least 1, got {limit}.")
    return backend.list_jobs(queue=queue, state=state, limit=limit)


def show_job(backend: Backend, job_id: str) -> dict[str, Any]:
    record = backend.get_job(job_id)
    if record is None:
        raise BadInput(f"no job with id '{job_id}'.")
    return record


# -- dead letters and retention ------------------------------------------------------------
RETRYABLE = ("failed", "canceled")
PAGE = 1_000


def retry_job(backend: Backend, registry: JobRegistry, job_id: str) -> dict[str, Any]:
    """Put one failed or canceled job back in its queue; returns its record."""
    record = show_job(backend, job_id)
    if record["state"] not in RETRYABLE:
        raise BadInput(f"job {job_id} is {record['state']}; only failed or canceled jobs retry.")
    if not backend.requeue(job_id, _fresh_message(record, registry)):
        raise BadInput(f"job {job_id} changed state meanwhile; it was not retried.")
    return show_job(backend, job_id)


def retry_all(
    backend: Backend, registry: JobRegistry, queue: str | None = None, job: str | None = None
) -> int:
    """Retry every failed job of `queue` (all queues when None), only `job` if given."""
    retried = 0
    queues = [queue] if queue else backend.known_queues()
    for name in queues:
        while True:
            page = backend.list_jobs(queue=name, state="failed", limit=PAGE)
            matching = [row for row in page if job is None or row["job"] == job]
            for row in matching:
                retried += backend.requeue(row["id"], _fresh_message(row, registry))
            if len(page) < PAGE or not matching:
                break
    return retried


def clean(backend: Backend, queue: str | None, state: str, older_than: float) -> int:
    """Delete finished jobs in `state` older than `older_than` seconds; returns how many."""
    if state not in FINAL_STATES:
        raise BadInput(f"clean takes a final state (completed, failed, canceled), not '{state}'.")
    before = time.time() - older_than
    queues = [queue] if queue else backend.known_queues()
    return sum(_purge_all(backend, name, state, finished_before=before) for name in queues)


def apply_retention(backend: Backend, config: Config, queue: str) -> int:
    """Trim one queue's finished records to the configured caps (count and age)."""
    policy = config.retention
    now = time.time()
    caps = (
        ("completed", policy.completed_max, policy.completed_days),
        ("failed", policy.failed_max, policy.failed_days),
        ("canceled", policy.failed_max, policy.failed_days),
    )
    return sum(
        _purge_all(backend, queue, state, finished_before=now - days * 86400, keep=keep)
        for state, keep, days in caps
    )


def _purge_all(backend: Backend, queue: str, state: str, **bounds: Any) -> int:
    """`purge` in bounded batches until nothing matches (one call never blocks for long)."""
    total = 0
    while True:
        removed = backend.purge(queue, state, limit=PAGE * 10, **bounds)
        total += removed
        if removed < PAGE * 10:
            return total


def _fresh_message(record: dict[str, Any], registry: JobRegistry) -> bytes | None:
    """The job's message rebuilt with its full retries when its plugin is loaded here;
    None keeps the stored message (its retries may be spent)."""
    if record["job"] not in registry:
        return None
    spec = registry.get(record["job"])
    options = spec.message_options(record["priority"] or 0)
    return compose(record["id"], spec.name, dumps(record["payload"] or {}), options)
