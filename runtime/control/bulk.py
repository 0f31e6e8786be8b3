"""Searches and actions over every job a filter matches, not a loaded page: bounded
chunks, progress after each, one audit when the run ends or stops; and the dead-letter
set retried or deleted as a whole."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from runtime import events
from runtime.backends.base.storage import FINAL_STATES, STATES, Backend, state_cursor
from runtime.control.connection import outage_errors
from runtime.control.jobs import CHUNK, FreshHeads, shown_record
from runtime.errors import BadInput
from runtime.search import JobQuery

if TYPE_CHECKING:
    from runtime.jobs import JobRegistry

SEARCH_BUDGET = 2_000  # jobs one search step looks at: each step (one call) stays short


def search_jobs(
    backend: Backend,
    queue: str | None,
    state: str | None,
    query: JobQuery,
    job: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    budget: int = SEARCH_BUDGET,
) -> dict[str, Any]:
    """One step of a search through a state's jobs (every job when `state` is None): it
    looks at about `budget` jobs from `cursor` and returns those `query` matches (at most
    `limit`) as people see them. `{"jobs", "next_cursor"` (None: searched to the end),
    `"searched"` (jobs this step looked at), `"total"` (jobs in the state now)`}`."""
    if state is not None and state not in STATES:
        raise BadInput(f"unknown state '{state}'; use one of {', '.join(STATES)}.")
    now = backend.now()
    try:
        page = backend.list_jobs(
            queue=queue,
            state=state,
            job=job,
            limit=limit,
            cursor=cursor,
            match=None if query.empty else query.matches,
            budget=budget,
        )
    except ValueError:
        message = f"'{cursor}' is not a cursor from this search; start without one."
        raise BadInput(message) from None
    return {
        "jobs": [shown_record(record, now) for record in page.jobs],
        "next_cursor": page.next_cursor,
        "searched": page.examined,
        "total": _jobs_in(backend, queue, state),
    }


def _jobs_in(backend: Backend, queue: str | None, state: str | None) -> int | None:
    """How many jobs `state` holds on `queue` (every queue when None); None without a
    count kept (retrying, canceled, every state; completed counts jobs ever completed).
    The delayed count includes retrying jobs: the index a search of delayed walks."""
    if state not in ("waiting", "delayed", "active", "failed"):
        return None
    names = [queue] if queue is not None else backend.known_queues()
    return sum(row[state] for row in backend.queue_counts(names).values())


BULK_ACTIONS = ("retry", "cancel", "delete")


def act_on_matching(
    backend: Backend,
    registry: JobRegistry,
    action: str,
    queue: str | None,
    state: str,
    query: JobQuery,
    job: str | None = None,
    chunk: int = CHUNK,
) -> Iterator[dict[str, int]]:
    """`action` (retry, cancel, delete) on every job of `state` (on `queue`, every queue
    when None) that `query` and `job` match: all of them, not a loaded page, a chunk of
    `chunk` jobs per step. Yields `{"seen", "done", "skipped"}` so far after each chunk
    (skipped: the job changed state meanwhile, or the action does not apply to it); the
    caller stops by not asking for more. The run is audited once, when it ends or stops."""
    if action not in BULK_ACTIONS:
        raise BadInput(f"unknown action '{action}'; use one of {', '.join(BULK_ACTIONS)}.")
    if state not in STATES:
        raise BadInput(f"unknown state '{state}'; use one of {', '.join(STATES)}.")
    act = _bulk_operation(backend, registry, action, state)
    stays = action == "cancel" and state == "active"  # a running job ends when it stops
    progress = {"seen": 0, "done": 0, "skipped": 0}
    try:
        for name in [queue] if queue is not None else backend.known_queues():
            for step in _matching_chunks(backend, name, state, query, job, chunk, act, stays):
                progress = {key: progress[key] + step[key] for key in progress}
                yield progress
    finally:
        with contextlib.suppress(*outage_errors()):  # the outage is what the caller sees
            events.audit(
                backend,
                f"job.{action}_matching",
                queue=queue,
                job=job,
                state=state,
                filter=_query_text(query, job),
                seen=progress["seen"],
                done=progress["done"],
                skipped=progress["skipped"],
            )


def _matching_chunks(
    backend: Backend,
    queue: str,
    state: str,
    query: JobQuery,
    job: str | None,
    chunk: int,
    act: Callable[[list[dict[str, Any]]], int],
    stays: bool,
) -> Iterator[dict[str, int]]:
    """Walk `queue`'s index of `state` a chunk at a time, acting on what matches. Jobs the
    action took out of the index (all it was done to, unless they `stays`) no longer count
    in the ranks, so the next chunk starts at the rank of the first job not looked at
    (`left`: the jobs left ahead of it)."""
    match = None if query.empty else query.matches
    left = 0
    while True:
        cursor = state_cursor(queue, left)
        page = backend.list_jobs(queue, state, job, chunk, cursor, match, budget=chunk)
        taken = act(page.jobs) if page.jobs else 0
        yield {"seen": len(page.jobs), "done": taken, "skipped": len(page.jobs) - taken}
        if page.next_cursor is None:
            return
        left += page.examined - (0 if stays else taken)


def _bulk_operation(
    backend: Backend, registry: JobRegistry, action: str, state: str
) -> Callable[[list[dict[str, Any]]], int]:
    """One chunk's action: records in, how many it was done to out (a job that changed
    state meanwhile is left as it is and not counted)."""
    if action == "delete":
        return lambda records: backend.delete_many([r["id"] for r in records], state=state)
    if action == "retry":
        heads = FreshHeads(registry)
        return lambda records: backend.requeue_many(
            {r["id"]: heads.head(r["id"], r["job"], r["priority"]) for r in records}
        )

    def cancel(records: list[dict[str, Any]]) -> int:
        before = [backend.cancels.cancel(record["id"]) for record in records]
        return sum(1 for was in before if was is not None and was not in FINAL_STATES)

    return cancel


def _query_text(query: JobQuery, job: str | None) -> str:
    terms = [f"job:{job}"] if job else []
    terms += [f"id:{query.id_prefix}"] if query.id_prefix else []
    terms += [f"payload.{path}:{value}" for path, value in query.payload.items()]
    terms += [f"error:{query.error}"] if query.error is not None else []
    return " ".join(terms)


def retry_all(
    backend: Backend,
    registry: JobRegistry,
    queue: str | None = None,
    job: str | None = None,
    chunk: int = CHUNK,
) -> int:
    """Retry every failed job of `queue` (all queues when None), only `job` if given; each
    gets fresh retries when its plugin is loaded here. Returns how many were retried."""
    heads, until = FreshHeads(registry), backend.now()

    def requeue(name: str, offset: int) -> tuple[int, int]:
        return backend.requeue_failed(name, until, offset, chunk, job, heads)

    retried = _each_failed_chunk(backend, queue, requeue)
    events.audit(backend, "job.retry_all", queue=queue, job=job, retried=retried)
    return retried


def delete_all(
    backend: Backend, queue: str | None = None, job: str | None = None, chunk: int = CHUNK
) -> int:
    """Delete every failed job of `queue` (all queues when None), only `job` if given.
    Returns how many were deleted."""
    until = backend.now()

    def delete(name: str, offset: int) -> tuple[int, int]:
        entries = backend.finished_slice(name, "failed", until, offset, chunk)
        wanted = [job_id for job_id, job_name, _ in entries if job in (None, job_name)]
        return len(entries), backend.delete_many(wanted, state="failed") if wanted else 0

    deleted = _each_failed_chunk(backend, queue, delete)
    events.audit(backend, "job.delete_all", queue=queue, job=job, deleted=deleted)
    return deleted


def _each_failed_chunk(
    backend: Backend, queue: str | None, step: Callable[[str, int], tuple[int, int]]
) -> int:
    """Walk the failed set of `queue` (every known queue when None) a chunk at a time,
    oldest first: `step(queue, offset)` looks at a chunk from rank `offset`, takes what it
    wants out of the set in one backend call, and says (looked at, taken); the jobs it
    left stay ahead of the rest, so the next chunk starts after them. The steps look only
    at jobs that had failed when the walk began (`until`): one failing again meanwhile is
    not taken twice, and the walk ends however fast jobs fail. Memory holds one chunk of
    ids at most, never records. Returns how many were taken."""
    total = 0
    for name in [queue] if queue is not None else backend.known_queues():
        skipped = 0  # jobs left in the failed set: another name, or changed meanwhile
        while True:
            looked, taken = step(name, skipped)
            total += taken
            skipped += looked - taken
            if not looked:
                break
    return total
