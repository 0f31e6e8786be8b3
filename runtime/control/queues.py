"""Queue operations: pause and resume, purge, clean, drain, forget, the retention
pass, and a queue's metrics."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from runtime import events, stats
from runtime.backends.base.storage import FINAL_STATES, Backend
from runtime.config import Config
from runtime.control.jobs import CHUNK
from runtime.errors import BadInput
from runtime.names import check_name

if TYPE_CHECKING:
    from runtime.jobs import JobRegistry


def clean(
    backend: Backend, queue: str | None, state: str, older_than: float, chunk: int = CHUNK
) -> int:
    """Delete finished jobs in `state` older than `older_than` seconds, `chunk` per backend
    call (a range delete of the finish-time index: no record is read); returns how many."""
    if state not in FINAL_STATES:
        raise BadInput(f"clean takes a final state (completed, failed, canceled), not '{state}'.")
    before = backend.now() - older_than
    queues = [queue] if queue else backend.known_queues()
    removed = sum(
        _purge_all(backend, name, state, chunk, finished_before=before) for name in queues
    )
    events.audit(
        backend, "queue.clean", queue=queue, state=state, older_than=older_than, removed=removed
    )
    return removed


def purge_queue(backend: Backend, config: Config, queue: str, confirm: str | None) -> int:
    """Delete every job of `queue` except running ones: waiting, delayed, retrying and
    finished. `confirm` must repeat the queue's name, as the CLI's --yes-i-mean-it."""
    known_queue(backend, config, queue)
    if confirm != queue:
        raise BadInput(
            f"purging deletes every job of queue {queue}; confirm with --yes-i-mean-it {queue}."
        )
    removed = backend.purge_queue(queue)
    # A purged queue that nobody configures, serves or paused leaves the known queues too
    # (unless running jobs are left in it); its next push brings it back.
    forgotten = queue not in _in_use(backend, config) and backend.forget_queue(queue) == 0
    events.audit(backend, "queue.purge", queue=queue, removed=removed, forgotten=forgotten)
    return removed


# The known queues (every queue pushed to) are what `status`, `clean` and the retention pass
# visit: a queue leaves them once it is empty and nobody names it, so their number stays
# that of the queues in use, not of every queue ever used.
def forget_queue(
    backend: Backend, config: Config, queue: str, registry: JobRegistry | None = None
) -> dict[str, Any]:
    """`runtime queue forget Q`: drop an empty queue nobody configures from the known
    queues. Refused, changing nothing, while the config, a job of `registry` or a live
    worker's heartbeat (a daemon elsewhere) names it, or while it holds a job in any
    state. A pause flag goes with it; a later push makes it known again."""
    check_name("queue", queue)
    known_queue(backend, config, queue)
    named = _named_by(backend, config, queue, registry)
    if named is not None:
        raise BadInput(f"queue {queue} is {named}; only a queue nobody configures is forgotten.")
    held = backend.forget_queue(queue)
    if held:
        jobs = "1 job" if held == 1 else f"{held} jobs"
        raise BadInput(
            f"queue {queue} still holds {jobs}; purge it first "
            f"(runtime queue purge {queue} --yes-i-mean-it {queue}) and let running jobs finish."
        )
    events.audit(backend, "queue.forget", queue=queue)
    return {"queue": queue, "forgotten": True}


def forget_idle_queues(backend: Backend, config: Config, named: Collection[str] = ()) -> list[str]:
    """Forget every known queue that holds no job and that nobody names: not the config,
    not `named` (the caller's loaded jobs' queues), not a live worker, and not paused (an
    operator's setting that forgetting would drop). The leading daemon runs this after
    each retention pass, so a queue whose last jobs were cleaned away leaves too. Returns
    the queues forgotten."""
    keep = _in_use(backend, config) | set(named)
    idle = [queue for queue in backend.known_queues() if queue not in keep]
    forgotten = [queue for queue in idle if backend.forget_queue(queue) == 0]
    for queue in forgotten:
        events.audit(backend, "queue.forget", queue=queue, idle=True)
    return forgotten


def _named_by(
    backend: Backend, config: Config, queue: str, registry: JobRegistry | None
) -> str | None:
    """Who still names `queue`, as the words after "queue Q is"; None when nobody does."""
    if queue in config.queues:
        where = f" in {config.source}" if config.source else ""
        return f"configured ([queues.{queue}]{where})"
    jobs = [spec.name for spec in registry or () if spec.queue == queue]
    if jobs:
        return f"the queue of job {jobs[0]}"
    workers = sorted(w["id"] for w in backend.workers() if queue in w.get("queues", ()))
    if workers:
        return f"served by a live worker ({workers[0]})"
    return None


def _in_use(backend: Backend, config: Config) -> set[str]:
    """Queues an automatic forget spares: configured, served by a live worker, paused."""
    served = {queue for worker in backend.workers() for queue in worker.get("queues", ())}
    return set(config.queues) | served | backend.paused_queues()


PENDING_STATES = ("waiting", "delayed", "active")


def drain_queue(
    backend: Backend, config: Config, queue: str, timeout: float, poll: float = 0.5
) -> bool:
    """Wait until `queue` has no waiting, delayed, retrying or active job; False when
    `timeout` seconds passed first."""
    known_queue(backend, config, queue)
    events.audit(backend, "queue.drain", queue=queue, timeout=timeout)
    deadline = time.monotonic() + timeout
    while True:
        counts = backend.queue_counts([queue])[queue]
        if not any(counts[state] for state in PENDING_STATES):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


def pause_queue(backend: Backend, config: Config, queue: str) -> dict[str, Any]:
    """Stop workers claiming from `queue` (within 1 s); running jobs finish. The flag is
    stored in the backend, so it survives restarts."""
    return _set_paused(backend, config, queue, True)


def resume_queue(backend: Backend, config: Config, queue: str) -> dict[str, Any]:
    return _set_paused(backend, config, queue, False)


def _set_paused(backend: Backend, config: Config, queue: str, paused: bool) -> dict[str, Any]:
    known_queue(backend, config, queue)
    backend.set_paused(queue, paused)
    events.audit(backend, "queue.pause" if paused else "queue.resume", queue=queue)
    return {"queue": queue, "paused": paused}


def known_queue(backend: Backend, config: Config, queue: str) -> str:
    """`queue` if it is configured or ever had a job, else BadInput naming the known ones."""
    names = sorted(set(config.queues) | set(backend.known_queues()))
    if queue not in names:
        raise BadInput(f"unknown queue '{queue}'; known queues: {', '.join(names) or 'none'}.")
    return queue


def apply_retention(backend: Backend, config: Config, queue: str) -> int:
    """Trim one queue's finished records to the configured caps (count and age)."""
    policy = config.retention
    now = backend.now()
    # Metrics past their retention too (24 h per minute, 30 days per day): called every
    # minute, each prune deletes about a minute's rows. Not counted in the return value.
    backend.metrics.prune(queue, now)
    caps = (
        ("completed", policy.completed_max, policy.completed_days),
        ("failed", policy.failed_max, policy.failed_days),
        ("canceled", policy.failed_max, policy.failed_days),
    )
    return sum(
        _purge_all(backend, queue, state, finished_before=now - days * 86400, keep=keep)
        for state, keep, days in caps
    )


def _purge_all(backend: Backend, queue: str, state: str, chunk: int = CHUNK, **bounds: Any) -> int:
    """`purge` `chunk` at a time until nothing matches (one call never blocks for long)."""
    total = 0
    while True:
        removed = backend.purge(queue, state, limit=chunk, **bounds)
        total += removed
        if removed < chunk:
            return total


def queue_stats(
    backend: Backend, config: Config, queue: str | None = None, job: str | None = None
) -> dict[str, Any]:
    """`runtime stats` of one queue (every queue when None) and job (every job when None);
    an unknown queue is BadInput."""
    if queue is not None:
        known_queue(backend, config, queue)
    return stats.queue_stats(backend, queue, job)


METRIC_SPANS = tuple(stats.SPANS)  # "1h", "24h", "30d": what metric_span reads


def metric_span(
    backend: Backend, config: Config, queue: str | None, span: str, job: str | None = None
) -> dict[str, Any]:
    """The dashboard's Metrics over `span` (METRIC_SPANS) of one queue (every queue when
    None), the charts narrowed to `job` when given (stats.span_stats); an unknown queue
    or span is BadInput."""
    if span not in stats.SPANS:
        raise BadInput(f"unknown span {span!r}; use one of {', '.join(METRIC_SPANS)}.")
    queues = [known_queue(backend, config, queue)] if queue is not None else backend.known_queues()
    return {"queue": queue, **stats.span_stats(backend, queues, span, job)}
