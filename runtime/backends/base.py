"""The one small interface every backend implements.

A backend extends a Huey storage class (so Huey's own key-value operations, used for
locks and `put_if_empty`, keep working) and adds lease-based job operations:

    push -> waiting|delayed -> claim (active, leased, token) -> complete | retry | fail | release

Every operation on a claimed job carries the claim's token. A token goes stale when the
lease is reaped or the job is released; operations with a stale token change nothing and
return False (fencing), so a worker that lost its lease cannot complete the job later.

Times are unix timestamps (float seconds). Job records are plain dicts with the keys of
`RECORD_KEYS`; `runtime job show --json` prints them unchanged.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

STATES = ("waiting", "delayed", "active", "retrying", "completed", "failed", "canceled")
FINAL_STATES = frozenset({"completed", "failed", "canceled"})
# Counted per queue by `queue_counts`; `delayed` includes jobs waiting for a retry.
COUNTED_STATES = ("waiting", "delayed", "active", "failed", "completed")

RECORD_KEYS = (
    "id",
    "job",
    "queue",
    "state",
    "attempts",
    "progress",
    "result",
    "error",
    "priority",
    "payload",
    "key",
    "enqueued_at",
    "started_at",
    "finished_at",
    "eta",
    "worker",
    "stalls",
)


@dataclass(frozen=True)
class NewJob:
    """A message ready to be stored. `data` is the serialized message (JSON bytes)."""

    id: str
    job: str
    queue: str
    data: bytes
    payload: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    eta: float | None = None  # None or <= now: waiting; later: delayed
    key: str | None = None  # idempotency key
    # Seconds a final holder of `key` keeps it (0: the key is free at its final state).
    key_window: float = 0.0
    payload_json: str | None = None  # `payload` already encoded, when the producer has it

    def payload_text(self) -> str:
        """The payload as JSON text for the job record."""
        if self.payload_json is not None:
            return self.payload_json
        return json.dumps(self.payload, separators=(",", ":"))


@dataclass(frozen=True)
class EnqueueResult:
    id: str
    state: str
    deduplicated: bool


@dataclass(frozen=True)
class Reaped:
    """What one reap did: jobs handed back to waiting, and jobs dead-lettered as stalled."""

    recovered: list[str] = field(default_factory=list)
    stalled: list[str] = field(default_factory=list)


def final_state(state: str) -> str:
    """`state` if it is final (what `purge` takes), else ValueError."""
    if state not in FINAL_STATES:
        raise ValueError(f"purge takes a final state (completed, failed, canceled), not '{state}'")
    return state


# The error of a job `reap_expired` dead-letters. The message is printf-style (`%d`: the
# stall count) so that the Redis script formats the very same text with string.format.
STALLED_ERROR: dict[str, Any] = {
    "type": "Stalled",
    "message": "lease expired %d times: the job's worker keeps dying or hanging",
    "traceback": None,
}


def stalled_error(stalls: int) -> dict[str, Any]:
    """STALLED_ERROR for a job whose lease expired `stalls` times."""
    return {**STALLED_ERROR, "message": STALLED_ERROR["message"] % stalls}


@dataclass(frozen=True)
class Claim:
    """A job handed to one worker until `deadline` unless renewed."""

    job_id: str
    token: str
    data: bytes
    attempt: int
    deadline: float


class Backend(ABC):
    """One backend URL shared by every queue; cheap to call from many threads."""

    #: The backend URL with any password replaced by `***`: safe to print.
    display_url: str

    @abstractmethod
    def ping(self) -> None:
        """Raise BackendUnavailable with one sentence naming the backend if it cannot be used."""

    # -- producing -------------------------------------------------------------------
    @abstractmethod
    def push(self, job: NewJob) -> EnqueueResult:
        """Store a job record and queue the message, atomically.

        With `job.key`: if the job holding that key is not in a final state, or is in one
        (completed, failed, canceled) with `finished_at` > now - `job.key_window`, nothing
        is stored and that job's id and current state are returned with
        `deduplicated=True`. Otherwise the new job takes the key: with `key_window=0` a
        key is free again as soon as its job reaches a final state. Deleting the holder's
        record (`purge`) frees its key. State is `delayed` when eta > now, else
        `waiting`. Order of claims: higher priority first, FIFO within a priority.
        """

    @abstractmethod
    def push_many(self, jobs: list[NewJob]) -> list[EnqueueResult]:
        """`push` for many jobs in one round trip (Redis pipeline / one SQLite transaction)."""

    # -- consuming -------------------------------------------------------------------
    @abstractmethod
    def claim(self, queue: str, lease_seconds: float, timeout: float) -> Claim | None:
        """Atomically move the next waiting job of `queue` to active with a fresh token,
        `attempts + 1`, `started_at`, and a lease deadline of now + lease_seconds.

        Waits up to `timeout` seconds for work (0: don't wait). Returns None on time-out.
        Never loses a job: there is no moment where it is in neither place.
        """

    @abstractmethod
    def renew(self, job_id: str, token: str, lease_seconds: float) -> bool:
        """Extend the lease to now + lease_seconds. False if the token is stale."""

    @abstractmethod
    def complete(self, job_id: str, token: str, result: str | None) -> bool:
        """Active -> completed; `result` is JSON text or None. Releases the lease."""

    @abstractmethod
    def complete_and_claim(
        self, job_id: str, token: str, result: str | None, queue: str, lease_seconds: float
    ) -> tuple[bool, Claim | None]:
        """`complete`, then `claim(queue, lease_seconds, timeout=0)`, in one round trip:
        a busy worker pays one backend call per job, as BullMQ's moveToFinished does."""

    @abstractmethod
    def retry(
        self, job_id: str, token: str, data: bytes, eta: float, error: dict[str, Any]
    ) -> bool:
        """Active -> retrying, to be waiting again at `eta` with the new message `data`
        (fewer retries left); records `error` ({type, message, traceback})."""

    @abstractmethod
    def fail(self, job_id: str, token: str, error: dict[str, Any]) -> bool:
        """Active -> failed (the dead-letter set), with `error` and `finished_at`."""

    @abstractmethod
    def release(self, job_id: str, token: str) -> bool:
        """Active -> waiting at once (drain on shutdown); the attempt count is kept."""

    @abstractmethod
    def bury(self, queue: str, data: bytes, reason: str) -> str:
        """Dead-letter a message that cannot be run (undecodable, unknown job) with the
        reason; returns the id of the failed record."""

    @abstractmethod
    def progress(self, job_id: str, token: str, percent: float, stage: str | None) -> bool:
        """Record `{"percent", "stage"}` on an active job. False if the token is stale."""

    @abstractmethod
    def promote_due(self, queue: str, now: float) -> int:
        """Delayed and retrying jobs whose eta <= now become waiting. Returns how many."""

    @abstractmethod
    def reap_expired(self, queue: str, now: float, max_stalls: int = 3) -> Reaped:
        """Active jobs whose lease deadline < now lost their worker: each gets `stalls + 1`
        and its token invalidated. Below `max_stalls` it becomes waiting again (recovered);
        at `max_stalls` it becomes failed (dead-letter) with error
        `{"type": "Stalled", "message": "lease expired N times ...", "traceback": None}` and
        `finished_at`, so a job that kills its worker every time cannot loop for ever
        (BullMQ's maxStalledCount). Returns the ids of both kinds."""

    # -- dead letters and retention ----------------------------------------------------
    @abstractmethod
    def requeue(self, job_id: str, data: bytes | None = None) -> bool:
        """A failed or canceled job becomes waiting again (`runtime job retry`): error,
        finished_at, stalls and progress cleared, attempts kept; its message replaced by
        `data` when given (fresh retries). False, changing nothing, in any other state."""

    @abstractmethod
    def purge(
        self,
        queue: str,
        state: str,
        finished_before: float | None = None,
        keep: int | None = None,
        limit: int = 10_000,
    ) -> int:
        """Delete records of one final state (completed, failed, canceled) in `queue`:
        those finished before `finished_before`, and those beyond the newest `keep` by
        finish time. At most `limit` per call (a range query, never a scan); returns how
        many. Indexes, counters of current states and idempotency keys stay consistent;
        the completed total does not shrink."""

    # -- reading ---------------------------------------------------------------------
    @abstractmethod
    def get_job(self, job_id: str) -> dict[str, Any] | None:
        """The job record (keys of RECORD_KEYS), or None."""

    @abstractmethod
    def list_jobs(
        self, queue: str | None = None, state: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Job records, newest enqueued first, filtered by queue and/or state."""

    @abstractmethod
    def queue_counts(self, queues: list[str]) -> dict[str, dict[str, int]]:
        """For each queue, counts of COUNTED_STATES, in one round trip. `completed` is the
        number of jobs ever completed on that queue."""

    @abstractmethod
    def known_queues(self) -> list[str]:
        """Every queue that ever had a job pushed, sorted."""

    # -- administration --------------------------------------------------------------
    @abstractmethod
    def set_paused(self, queue: str, paused: bool) -> None:
        """Persisted pause flag; workers stop claiming from a paused queue."""

    @abstractmethod
    def paused_queues(self) -> set[str]: ...

    @abstractmethod
    def put_worker(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        """Publish a worker heartbeat; it counts as live for `ttl` seconds."""

    @abstractmethod
    def remove_worker(self, worker_id: str) -> None: ...

    @abstractmethod
    def workers(self) -> list[dict[str, Any]]:
        """Live workers' info dicts (heartbeat within their ttl), each with `id`."""

    @abstractmethod
    def close(self) -> None: ...
