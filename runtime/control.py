"""Every read and admin operation an operator uses. The CLI and the dashboard call this
module only; neither knows how a backend stores anything."""

from __future__ import annotations

from typing import Any

from runtime import alerts
from runtime.backends.base import COUNTED_STATES, STATES, Backend
from runtime.config import Config
from runtime.errors import BadInput


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
