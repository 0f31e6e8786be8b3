"""One job: its record as people see it (masked), its detail, and the actions on it
(retry, retry with an edited payload, cancel, delete)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runtime import events
from runtime.backends.base.storage import FINAL_STATES, STATES, Backend
from runtime.errors import BadInput
from runtime.masking import mask_payload
from runtime.messages import dumps, head_rest, head_with_rest

if TYPE_CHECKING:
    from runtime.jobs import JobRegistry


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
        "jobs": [shown_record(record, now) for record in page.jobs],
        "next_cursor": page.next_cursor,
    }


def show_job(backend: Backend, job_id: str) -> dict[str, Any]:
    """One job's record as people see it: payload masked, progress with an ETA."""
    return shown_record(record_of(backend, job_id), backend.now())


# Jobs a bulk action (retry_all, delete_all, act_on_matching, clean, retention) reads and
# acts on per backend call: memory and each call's time stay bounded whatever their number.
CHUNK = 500


_ID_PREFIX = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def jobs_with_id_prefix(backend: Backend, prefix: str, limit: int = 50) -> list[str]:
    """The job whose id is `prefix`, or up to `limit` ids starting with it, in any state."""
    if not _ID_PREFIX.match(prefix):
        raise BadInput(f"'{prefix}' is not the start of a job id (letters, digits, . _ -).")
    if backend.get_job(prefix) is not None:
        return [prefix]
    return backend.ids_with_prefix(prefix, limit)


def record_of(backend: Backend, job_id: str) -> dict[str, Any]:
    record = backend.get_job(job_id)
    if record is None:
        raise BadInput(f"no job with id '{job_id}'.")
    return record


def shown_record(record: dict[str, Any], now: float) -> dict[str, Any]:
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
    record = record_of(backend, job_id)
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


def delete_job(backend: Backend, job_id: str) -> None:
    """Delete one job that is not running (cancel a running job first)."""
    record = record_of(backend, job_id)
    if record["state"] == "active":
        raise BadInput(f"job {job_id} is running; cancel it first (runtime job cancel {job_id}).")
    if not backend.delete(job_id):
        raise BadInput(f"job {job_id} changed state meanwhile; it was not deleted.")
    events.audit(backend, "job.delete", queue=record["queue"], job_id=job_id, job=record["job"])


def cancel_job(backend: Backend, job_id: str) -> dict[str, Any]:
    """Cancel a job: waiting, delayed and retrying jobs at once; a running one is asked to
    stop (`ctx.cancelled`) and recorded canceled when it does (process workers end it
    after `[runtime] cancel_grace`). Returns `{id, job, queue, state, cancel_requested}`."""
    before = backend.cancels.cancel(job_id)
    if before is None:
        raise BadInput(f"no job with id '{job_id}'.")
    if before in FINAL_STATES:
        raise BadInput(f"job {job_id} is already {before}; only unfinished jobs can be canceled.")
    record = record_of(backend, job_id)
    events.audit(backend, "job.cancel", queue=record["queue"], job_id=job_id, job=record["job"])
    keys = ("id", "job", "queue", "state")
    return {**{key: record[key] for key in keys}, "cancel_requested": before == "active"}


def _fresh_message(record: dict[str, Any], registry: JobRegistry) -> bytes | None:
    """The job's message rebuilt with its full retries when its plugin is loaded here;
    None keeps the stored message (its retries may be spent)."""
    head = FreshHeads(registry).head(record["id"], record["job"], record["priority"] or 0)
    return None if head is None else head + dumps(record["payload"] or {}).encode() + b"}"
