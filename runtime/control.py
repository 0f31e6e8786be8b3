"""Every read and admin operation an operator uses. The CLI and the dashboard call this
module only; neither knows how a backend stores anything."""

from __future__ import annotations

import contextlib
import datetime
import re
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from runtime import alerts, cron, events, health, stats
from runtime.backends.base.events import EVENT_KEYS
from runtime.backends.base.storage import FINAL_STATES, STATES, Backend, state_cursor
from runtime.config import Config
from runtime.errors import BadInput
from runtime.masking import mask_payload, mask_url
from runtime.messages import dumps, head_rest, head_with_rest
from runtime.names import check_name
from runtime.search import JobQuery, failure_signature

if TYPE_CHECKING:
    from runtime.jobs import JobRegistry
    from runtime.plugins import Plugins


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


# -- alerts ----------------------------------------------------------------------------------
def list_alerts(
    backend: Backend, include_resolved: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    """Open alerts (firing and acknowledged), oldest first; with `include_resolved`, then
    the last `limit` resolved ones, last resolved first."""
    if limit < 1:
        raise BadInput(f"limit must be at least 1, got {limit}.")
    rows = backend.alerts.open_alerts()
    return rows + backend.alerts.history(limit) if include_resolved else rows


def ack_alert(backend: Backend, alert_id: str) -> dict[str, Any]:
    """Acknowledge a firing alert: it stays listed but no longer raises `runtime status`'s
    exit code. Acknowledging an acknowledged alert changes nothing."""
    before, alert = _move_alert(backend, alert_id, "acknowledged")
    if before == "acknowledged":
        return alert
    if before != "firing":
        raise BadInput(f"alert {alert_id} is resolved; only a firing alert can be acknowledged.")
    events.audit(
        backend, "alert.ack", queue=alert["queue"], alert_id=alert["id"], rule=alert["rule"]
    )
    return alert


def resolve_alert(backend: Backend, plugins: Plugins, alert_id: str) -> dict[str, Any]:
    """Resolve an open alert by hand (plugins hear `alert_resolved`). If its condition
    still holds, the next evaluation fires it again as a new alert: acknowledge instead
    to silence it."""
    before, alert = _move_alert(backend, alert_id, "resolved")
    if before == "resolved":
        raise BadInput(f"alert {alert_id} is already resolved.")
    events.audit(
        backend, "alert.resolve", queue=alert["queue"], alert_id=alert["id"], rule=alert["rule"]
    )
    plugins.notify("alert_resolved", alert=alert)
    return alert


def _move_alert(backend: Backend, alert_id: str, state: str) -> tuple[str, dict[str, Any]]:
    number = int(alert_id) if alert_id.isdigit() else -1
    before, alert = backend.alerts.transition(number, state, events.actor(), backend.now())
    if before is None or alert is None:
        raise BadInput(f"no alert with id '{alert_id}'.")
    return before, alert


MAX_PAGE = 1_000


def list_jobs(
    backend: Backend,
    queue: str | None = None,
    state: str | None = None,
    job: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """One page of jobs as people see them: `{"jobs": [...], "next_cursor": ...}`."""
    if state is not None and state not in STATES:
        raise BadInput(f"unknown state '{state}'; use one of {', '.join(STATES)}.")
    if not 1 <= limit <= MAX_PAGE:
        raise BadInput(f"limit must be between 1 and {MAX_PAGE}, got {limit}.")
    try:
        page = backend.list_jobs(queue=queue, state=state, job=job, limit=limit, cursor=cursor)
    except ValueError:
        message = f"'{cursor}' is not a cursor from this listing; start without one."
        raise BadInput(message) from None
    now = backend.now()
    return {
        "jobs": [_shown(record, now) for record in page.jobs],
        "next_cursor": page.next_cursor,
    }


def show_job(backend: Backend, job_id: str) -> dict[str, Any]:
    """One job's record as people see it: payload masked, progress with an ETA."""
    return _shown(_record(backend, job_id), backend.now())


# -- search and bulk actions on what a search matches -------------------------------------
# Jobs a bulk action (retry_all, delete_all, act_on_matching, clean, retention) reads and
# acts on per backend call: memory and each call's time stay bounded whatever their number.
CHUNK = 500
SEARCH_BUDGET = 2_000  # jobs one search step looks at: each step (one call) stays short
_ID_PREFIX = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


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
        "jobs": [_shown(record, now) for record in page.jobs],
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


def jobs_with_id_prefix(backend: Backend, prefix: str, limit: int = 50) -> list[str]:
    """The job whose id is `prefix`, or up to `limit` ids starting with it, in any state."""
    if not _ID_PREFIX.match(prefix):
        raise BadInput(f"'{prefix}' is not the start of a job id (letters, digits, . _ -).")
    if backend.get_job(prefix) is not None:
        return [prefix]
    return backend.ids_with_prefix(prefix, limit)


def _record(backend: Backend, job_id: str) -> dict[str, Any]:
    record = backend.get_job(job_id)
    if record is None:
        raise BadInput(f"no job with id '{job_id}'.")
    return record


def _shown(record: dict[str, Any], now: float) -> dict[str, Any]:
    """The record with secrets and personal data masked (payload, result, error message
    and traceback) and the progress's ETA added (`now`: the backend's clock)."""
    shown = {
        **record,
        "payload": mask_payload(record["payload"]),
        "result": mask_payload(record["result"]),
        "error": mask_payload(record["error"]),
    }
    if record["progress"] is not None and record["state"] == "active":
        shown["progress"] = {**record["progress"], "eta": progress_eta(record, now)}
    return shown


def progress_eta(record: dict[str, Any], now: float) -> float | None:
    """Seconds until an active job reaches 100%, at the rate it progressed since its
    attempt started; None before it has measurable progress."""
    percent = float(record["progress"].get("percent") or 0)
    started = record["started_at"]
    if started is None or not 0 < percent < 100:
        return None
    elapsed = max(now - started, 0.0)
    return round(elapsed * (100 - percent) / percent, 1)


# -- dead letters and retention ------------------------------------------------------------
RETRYABLE = ("failed", "canceled")


def retry_job(backend: Backend, registry: JobRegistry, job_id: str) -> dict[str, Any]:
    """Put one failed or canceled job back in its queue; returns its record."""
    record = _retryable(backend, job_id)
    _requeue(backend, record, _fresh_message(record, registry))
    events.audit(backend, "job.retry", queue=record["queue"], job_id=job_id, job=record["job"])
    return show_job(backend, job_id)


def retry_job_edited(
    backend: Backend,
    registry: JobRegistry,
    job_id: str,
    edited: Any,
    max_payload_bytes: int = 1024 * 1024,
) -> dict[str, Any]:
    """Retry a failed or canceled job with `edited` as its payload, validated as the
    producer validates one (the job's plugin must be loaded here). `edited` is what the
    operator saw, masked: a value left as shown keeps its stored value, so a `***` never
    replaces a secret. Audited as `job.retry_edited` with the names of the changed fields,
    never their values (they may be personal data). Returns the job's record."""
    from runtime.producer import Blueprint

    record = _retryable(backend, job_id)
    spec = registry.get(record["job"])
    priority = record["priority"] or 0
    payload = _unmasked(edited, record["payload"] or {})
    blueprint = Blueprint(
        spec.name, spec, record["queue"], priority, eta=None, max_payload_bytes=max_payload_bytes
    )
    text = blueprint.check(payload)  # InvalidPayload: one sentence saying what is wrong
    head = head_with_rest(job_id, FreshHeads(registry).rest(spec.name, priority))
    _requeue(backend, record, head + text.encode() + b"}")
    changed = sorted(_changed_fields(record["payload"] or {}, payload))
    events.audit(
        backend,
        "job.retry_edited",
        queue=record["queue"],
        job_id=job_id,
        job=spec.name,
        changed=changed,
    )
    return show_job(backend, job_id)


def job_detail(backend: Backend, registry: JobRegistry, job_id: str) -> dict[str, Any]:
    """`show_job` plus what the dashboard's detail says of retries: `max_attempts` (the
    job's registered retries + 1 when its plugin is loaded here, else None) and
    `next_retry_at` (when a retrying job runs again, else None)."""
    shown = show_job(backend, job_id)
    spec = registry.get(shown["job"]) if shown["job"] in registry else None
    retrying = shown["state"] == "retrying"
    return {
        **shown,
        "max_attempts": None if spec is None else spec.retries + 1,
        "next_retry_at": shown["eta"] if retrying else None,
    }


def _retryable(backend: Backend, job_id: str) -> dict[str, Any]:
    record = _record(backend, job_id)
    if record["state"] not in RETRYABLE:
        raise BadInput(f"job {job_id} is {record['state']}; only failed or canceled jobs retry.")
    return record


def _requeue(backend: Backend, record: dict[str, Any], data: bytes | None) -> None:
    if not backend.requeue(record["id"], data):
        raise BadInput(f"job {record['id']} changed state meanwhile; it was not retried.")


def _unmasked(edited: Any, stored: Any) -> Any:
    """`edited` with every value still equal to what masking showed of the stored one put
    back as stored (field by field, into objects)."""
    if not isinstance(edited, dict) or not isinstance(stored, dict):
        return edited
    shown = mask_payload(stored)
    kept: dict[str, Any] = {}
    for name, value in edited.items():
        if name in stored and value == shown[name]:
            kept[name] = stored[name]
        else:
            kept[name] = _unmasked(value, stored.get(name))
    return kept


def _changed_fields(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """Top-level fields added, removed or given another value."""
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


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


class FreshHeads:
    """Message heads with the full retries of `registry`'s jobs (the FreshHeads of
    runtime.backends.base.storage): the part after the id is encoded once per job name and
    priority."""

    def __init__(self, registry: JobRegistry) -> None:
        self._registry = registry
        self.jobs = frozenset(spec.name for spec in registry)
        self._rests: dict[tuple[str, int], bytes] = {}

    def rest(self, job: str, priority: int) -> bytes:
        if (job, priority) not in self._rests:
            options = self._registry.get(job).message_options(priority)
            self._rests[job, priority] = head_rest(job, options)
        return self._rests[job, priority]

    def known(self) -> Mapping[tuple[str, int], bytes]:
        return self._rests

    def head(self, job_id: str, job: str, priority: int) -> bytes | None:
        return head_with_rest(job_id, self.rest(job, priority)) if job in self.jobs else None


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


def delete_job(backend: Backend, job_id: str) -> None:
    """Delete one job that is not running (cancel a running job first)."""
    record = _record(backend, job_id)
    if record["state"] == "active":
        raise BadInput(f"job {job_id} is running; cancel it first (runtime job cancel {job_id}).")
    if not backend.delete(job_id):
        raise BadInput(f"job {job_id} changed state meanwhile; it was not deleted.")
    events.audit(backend, "job.delete", queue=record["queue"], job_id=job_id, job=record["job"])


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


# -- forgetting queues -----------------------------------------------------------------------
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


# -- pause, resume, cancel -------------------------------------------------------------------
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


def cancel_job(backend: Backend, job_id: str) -> dict[str, Any]:
    """Cancel a job: waiting, delayed and retrying jobs at once; a running one is asked to
    stop (`ctx.cancelled`) and recorded canceled when it does (process workers end it
    after `[runtime] cancel_grace`). Returns `{id, job, queue, state, cancel_requested}`."""
    before = backend.cancels.cancel(job_id)
    if before is None:
        raise BadInput(f"no job with id '{job_id}'.")
    if before in FINAL_STATES:
        raise BadInput(f"job {job_id} is already {before}; only unfinished jobs can be canceled.")
    record = _record(backend, job_id)
    events.audit(backend, "job.cancel", queue=record["queue"], job_id=job_id, job=record["job"])
    keys = ("id", "job", "queue", "state")
    return {**{key: record[key] for key in keys}, "cancel_requested": before == "active"}


def requeue_stalled(backend: Backend, config: Config, job_id: str) -> dict[str, Any]:
    """Hand a stalled job (its lease expired, or its worker is dead) back to its queue now
    instead of waiting for a reaper (none runs when no daemon does). It goes through the
    reaper's own transition (a stall counted, the old token fenced, the event written), so
    at `max_stalls` it is dead-lettered like any job that keeps killing its worker. A job
    a live worker holds is refused: cancel it instead. Returns `{id, job, queue, state}`."""
    record = _record(backend, job_id)
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
    after = _record(backend, job_id)
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


def _fresh_message(record: dict[str, Any], registry: JobRegistry) -> bytes | None:
    """The job's message rebuilt with its full retries when its plugin is loaded here;
    None keeps the stored message (its retries may be spent)."""
    head = FreshHeads(registry).head(record["id"], record["job"], record["priority"] or 0)
    return None if head is None else head + dumps(record["payload"] or {}).encode() + b"}"


# -- metrics ---------------------------------------------------------------------------------
def queue_stats(
    backend: Backend, config: Config, queue: str | None = None, job: str | None = None
) -> dict[str, Any]:
    """`runtime stats` of one queue (every queue when None) and job (every job when None);
    an unknown queue is BadInput."""
    if queue is not None:
        known_queue(backend, config, queue)
    return stats.queue_stats(backend, queue, job)


# -- events ----------------------------------------------------------------------------------
# Events a filtered read of the newest ones looks through. The logs have no index by queue,
# job or type (a Redis Stream cannot have one), so filters apply here, client side.
EVENT_FILTER_WINDOW = 10_000
# What `read_events(event_type=...)` matches (the dashboard's filter checks against it).
EVENT_TYPES = events.EVENT_TYPES


def read_events(
    backend: Backend,
    *,
    after: str | None = None,
    limit: int = 20,
    block: float = 0.0,
    queue: str | None = None,
    job_id: str | None = None,
    event_type: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Events matching the filters, oldest first: those after the id `after` (at most
    `limit` read), or with `after=None` the newest `limit` matches among the newest
    EVENT_FILTER_WINDOW events; waits up to `block` seconds when none has arrived. Returns
    them and the cursor to pass as `after` next time (the last event read, matching or not).
    """
    wanted = {"queue": queue, "job_id": job_id, "type": event_type}
    wanted = {name: value for name, value in wanted.items() if value is not None}
    window = EVENT_FILTER_WINDOW if wanted and after is None else limit
    batch = backend.events.read(after, max(window, limit), block)
    cursor = batch[-1]["id"] if batch else after
    matching = [e for e in batch if all(e.get(k) == v for k, v in wanted.items())]
    return [_shown_event(event) for event in matching[-limit:]], cursor


def _shown_event(event: dict[str, Any]) -> dict[str, Any]:
    """An event with its extras masked (an error's message, a control action's details);
    who acted and what stays as it is: that is the audit trail."""
    kept = {*EVENT_KEYS, "action", "actor"}
    return {key: value if key in kept else mask_payload(value) for key, value in event.items()}


# -- the dashboard ---------------------------------------------------------------------------
# Failed jobs the failure groups are built from, newest first: the groups describe what is
# failing now, and a refresh never reads the whole dead-letter set.
FAILURE_SCAN = 5_000


def connect(config: Config) -> Backend:
    """The configured backend, reachable (BackendUnavailable otherwise)."""
    from runtime.backends import open_backend

    backend = open_backend(config.runtime.backend, config.base_dir)
    backend.ping()
    return backend


def disconnect(backend: Backend) -> None:
    with contextlib.suppress(Exception):  # it may be gone already: an outage
        backend.close()


def outage_errors() -> tuple[type[Exception], ...]:
    """What a call raises when the backend cannot be reached right now."""
    from runtime.backends import outage_errors as errors

    return errors()


def display_url(config: Config) -> str:
    return mask_url(config.runtime.backend)


def load_plugins(config: Config) -> Plugins:
    from runtime.plugins import load_plugins as load

    return load(config)


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
            stalled.append({**_shown(record, now), "reason": reason})
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
