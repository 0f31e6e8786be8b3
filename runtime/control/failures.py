"""The dead-letter set grouped by job name and error signature, and a group retried
or deleted at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from runtime import events
from runtime.backends.base.storage import Backend
from runtime.config import Config
from runtime.control.jobs import CHUNK, FreshHeads
from runtime.errors import BadInput
from runtime.search import failure_signature

if TYPE_CHECKING:
    from runtime.jobs import JobRegistry

# Failed jobs the failure groups are built from, newest first: the groups describe what is
# failing now, and a refresh never reads the whole dead-letter set.
FAILURE_SCAN = 5_000


def failure_groups(backend: Backend, config: Config) -> list[dict[str, Any]]:
    """The newest FAILURE_SCAN dead letters grouped by queue, job name and error signature,
    largest group first: `{key, queue, job, signature, count, first_seen, last_seen}`."""
    groups: dict[str, dict[str, Any]] = {}
    for record in _newest_failed(backend):
        signature = failure_signature(record["error"])
        key = f"{record['queue']}|{record['job']}|{signature}"
        group = groups.setdefault(
            key,
            {
                "key": key,
                "queue": record["queue"],
                "job": record["job"],
                "signature": signature,
                "count": 0,
                "first_seen": record["finished_at"],
                "last_seen": record["finished_at"],
            },
        )
        group["count"] += 1
        group["first_seen"] = min(group["first_seen"] or 0, record["finished_at"] or 0)
        group["last_seen"] = max(group["last_seen"] or 0, record["finished_at"] or 0)
    return sorted(groups.values(), key=lambda g: (-g["count"], g["key"]))


def act_on_failure_group(
    backend: Backend,
    registry: JobRegistry,
    action: str,
    group: dict[str, Any],
    chunk: int = CHUNK,
) -> dict[str, int]:
    """Retry or delete every job of a failure group (as `failure_groups` made it); returns
    `{done, skipped}`: skipped jobs changed state meanwhile (retried, deleted, purged)."""
    if action not in ("retry", "delete"):
        raise BadInput(f"unknown action '{action}' on a failure group; use retry or delete.")
    members = [  # ids and priorities only: a page of records at a time is read
        (record["id"], record["priority"] or 0)
        for record in _newest_failed(backend, group["queue"])
        if record["job"] == group["job"]
        and failure_signature(record["error"]) == group["signature"]
    ]
    done, heads = 0, FreshHeads(registry)
    for start in range(0, len(members), chunk):  # one backend call per chunk, not per job
        some = members[start : start + chunk]
        if action == "retry":
            done += backend.requeue_many({i: heads.head(i, group["job"], p) for i, p in some})
        else:
            done += backend.delete_many([job_id for job_id, _ in some], state="failed")
    events.audit(
        backend,
        f"failures.{action}",
        queue=group["queue"],
        job=group["job"],
        signature=group["signature"],
        done=done,
    )
    return {"done": done, "skipped": len(members) - done}


def _newest_failed(backend: Backend, queue: str | None = None) -> Iterator[dict[str, Any]]:
    """Up to FAILURE_SCAN failed records, newest first, a page at a time."""
    cursor, seen = None, 0
    while seen < FAILURE_SCAN:
        page = backend.list_jobs(queue=queue, state="failed", limit=500, cursor=cursor)
        yield from page.jobs[: FAILURE_SCAN - seen]
        seen += len(page.jobs)
        if (cursor := page.next_cursor) is None:
            return
