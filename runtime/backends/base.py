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
from collections.abc import Iterator
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
    # When the job became claimable: enqueued_at, or its eta if later (a delayed job).
    # runtime.stats measures the wait time of first attempts from it.
    ready_at: float | None = None


@dataclass(frozen=True)
class JobPage:
    """One page of `list_jobs`: the records, and the cursor of the next page (or None)."""

    jobs: list[dict[str, Any]]
    next_cursor: str | None


# The order `list_jobs(state=...)` returns each state in: what an operator looks for first.
STATE_ORDER = {
    "waiting": "next to be claimed first (priority, then push order)",
    "delayed": "soonest due first",
    "retrying": "soonest due first",
    "active": "soonest lease deadline first",
    "completed": "last finished first",
    "failed": "last finished first",
    "canceled": "last finished first",
}
# Index entries one `list_jobs` page examines at most: a `job` filter on a big index
# returns a short page with a cursor rather than walking the whole index.
SCAN_BUDGET = 5000


def _matches(record: dict[str, Any], state: str | None, job: str | None) -> bool:
    return (state is None or record["state"] == state) and (job is None or record["job"] == job)


def _push_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit():
        raise ValueError(f"invalid cursor '{cursor}'")
    return int(cursor)


def _state_cursor(cursor: str | None) -> tuple[int, str | None]:
    if cursor is None:
        return 0, None
    offset, _, queue = cursor.partition(":")
    if not offset.isdigit() or not queue:
        raise ValueError(f"invalid cursor '{cursor}'")
    return int(offset), queue


@dataclass(frozen=True)
class Overview:
    """What `runtime status` reads, taken together (`Backend.overview`)."""

    counts: dict[str, dict[str, int]]  # queue -> COUNTED_STATES counts, every known queue
    paused: set[str]
    workers: list[dict[str, Any]]  # live heartbeats, as `Backend.workers`
    results: dict[str, bytes]  # Huey's result store (cron's last runs live there)
    leader: str | None  # the leading daemon, as `Cluster.leader`
    alerts: list[dict[str, Any]]  # open alerts, as `AlertStore.open_alerts`
    alerts_evaluated: float | None  # as `AlertStore.last_evaluated`


class Backend(ABC):
    """One backend URL shared by every queue; cheap to call from many threads."""

    #: The backend URL with any password replaced by `***`: safe to print.
    display_url: str
    #: The heartbeat id of the worker process using this backend (runtime/worker.py), which
    #: claims record as the job's `worker` so operators can join jobs to heartbeats; None
    #: outside workers (claims then record `host:pid`).
    worker_id: str | None = None
    #: Leadership and worker-liveness operations (Cluster) and cancellation (Cancellation).
    cluster: Cluster
    cancels: Cancellation
    #: Lifecycle and control events (EventLog, at the end of this module).
    events: EventLog
    #: Alerts and their history (AlertStore, at the end of this module).
    alerts: AlertStore
    #: Per-minute and daily job metrics (MetricStore, at the end of this module).
    metrics: MetricStore

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

    @abstractmethod
    def delete(self, job_id: str) -> bool:
        """Delete a job that is not active, from its record and every index; its
        idempotency key is freed. False, changing nothing, when it is active or gone."""

    @abstractmethod
    def purge_queue(self, queue: str) -> int:
        """`delete` every job of `queue` that is not active, in bounded batches; returns
        how many. The completed total does not shrink."""

    # -- reading ---------------------------------------------------------------------
    @abstractmethod
    def get_job(self, job_id: str) -> dict[str, Any] | None:
        """The job record (keys of RECORD_KEYS), or None."""

    def list_jobs(
        self,
        queue: str | None = None,
        state: str | None = None,
        job: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        """A page of job records, filtered by queue, state and job name.

        Without `state`: newest enqueued first. With `state`: in the order of that state's
        index (STATE_ORDER), queue after queue by name when `queue` is None. A page is a
        range read of an index from where `cursor` says the last one stopped, never a
        scan. A `job` filter is applied while walking the index and stops once it has
        examined `SCAN_BUDGET` entries, so a page may hold fewer than `limit` records and
        still have a `next_cursor`; `next_cursor` is None once the index is exhausted. Raises
        ValueError for a cursor that is not one this method handed out.
        """
        # A job filter walks big slices and reads only job names until one matches.
        chunk = limit if job is None else max(limit, SCAN_BUDGET // 5)
        if state is None:
            batches = self._push_order_walk(queue, cursor, chunk)
        else:
            batches = self._state_walk(queue, state, cursor, chunk)
        found: list[dict[str, Any]] = []
        examined = 0
        for batch in batches:
            examined += len(batch)
            candidates = batch
            if job is not None:
                named = self._having_job([job_id for _, job_id in batch], job)
                candidates = [entry for entry in batch if entry[1] in named]
            records = self._records([job_id for _, job_id in candidates])
            for (after, _), record in zip(candidates, records, strict=True):
                if record is not None and _matches(record, state, job):
                    found.append(record)
                    if len(found) == limit:
                        return JobPage(found, after)
            if examined >= SCAN_BUDGET:  # the next page goes on after the whole batch
                return JobPage(found, batch[-1][0])
        return JobPage(found, None)

    def _push_order_walk(
        self, queue: str | None, cursor: str | None, chunk: int
    ) -> Iterator[list[tuple[str, str]]]:
        """Batches of (cursor after it, job id), newest enqueued first; the cursor is a
        push sequence number, so new pushes never shift later pages."""
        below = _push_cursor(cursor)
        while True:
            entries = self._push_order_slice(queue, below, chunk)
            yield [(str(seq), job_id) for seq, job_id in entries]
            if len(entries) < chunk:
                return
            below = entries[-1][0]

    def _state_walk(
        self, queue: str | None, state: str, cursor: str | None, chunk: int
    ) -> Iterator[list[tuple[str, str]]]:
        """Batches of (cursor after it, job id) in index order, queue by queue; the cursor
        is `offset:queue` (like rq's registries and BullMQ's getJobs, an offset: jobs that
        leave the state meanwhile shift later pages)."""
        offset, resume = _state_cursor(cursor)
        for name in [queue] if queue is not None else self.known_queues():
            if resume is not None and name < resume:
                continue
            position = offset if name == resume else 0
            while True:
                ids = self._state_slice(name, state, position, chunk)
                yield [(f"{position + n}:{name}", job_id) for n, job_id in enumerate(ids, 1)]
                position += len(ids)
                if len(ids) < chunk:
                    break

    @abstractmethod
    def _push_order_slice(
        self, queue: str | None, below: int | None, count: int
    ) -> list[tuple[int, str]]:
        """Up to `count` (push sequence number, job id) of `queue` (every queue when None)
        with a sequence number below `below` (None: from the newest), newest first."""

    @abstractmethod
    def _state_slice(self, queue: str, state: str, offset: int, count: int) -> list[str]:
        """Up to `count` job ids of `queue`'s index of `state`, from rank `offset`, in
        STATE_ORDER. The delayed index also holds retrying jobs (the caller filters)."""

    @abstractmethod
    def _records(self, job_ids: list[str]) -> list[dict[str, Any] | None]:
        """The record of each id, None where it is gone, in one round trip."""

    @abstractmethod
    def _having_job(self, job_ids: list[str], job: str) -> set[str]:
        """Those of `job_ids` whose job name is `job`, in one round trip."""

    @abstractmethod
    def queue_counts(self, queues: list[str]) -> dict[str, dict[str, int]]:
        """For each queue, counts of COUNTED_STATES, in one round trip. `completed` is the
        number of jobs ever completed on that queue."""

    @abstractmethod
    def overview(self, queues: list[str]) -> Overview:
        """Counts of every known queue and of `queues`, paused queues, live workers, Huey's
        result store, the leader and the open alerts: in one round trip whatever the number
        of queues (on Redis one script; on SQLite, in-process reads with no round trip)."""

    @abstractmethod
    def known_queues(self) -> list[str]:
        """Every queue that ever had a job pushed, sorted."""

    @abstractmethod
    def oldest_waiting(self, queues: list[str]) -> dict[str, float | None]:
        """For each queue, since when the job at the head of the waiting set (the next to
        be claimed: priority first, then push order) has been waiting: max(enqueued_at,
        eta), so a delayed or retried job counts from when it became due. None when
        nothing waits. A head read per queue, O(log n), in one or two round trips."""

    @abstractmethod
    def dead_letters_since(self, queues: list[str], since: float) -> dict[str, int]:
        """For each queue, how many jobs in its dead-letter set (failed) finished at or
        after `since`: how much the set grew since then (jobs retried or purged meanwhile
        are not counted). A range count on the failed index, in one round trip."""

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


# -- events ----------------------------------------------------------------------------------
# The event log keeps the newest EVENTS_CAP events (a Redis Stream trimmed with MAXLEN ~,
# a table trimmed by a trigger on SQLite): about 33,000 jobs' enqueued/started/completed,
# in about 11 MB of Redis memory. BullMQ keeps 10,000; a dashboard wants more history.
EVENTS_CAP = 100_000

# Keys every event has. Lifecycle events add their own (e.g. `attempt`, `error`,
# `progress`); control events add `action`, `actor` and `details` (runtime.events.audit).
EVENT_KEYS = ("id", "ts", "type", "queue", "job_id", "job")


class EventLog(ABC):
    """The capped stream of lifecycle and control events (`runtime events`).

    Backends write lifecycle events in the same script or transaction as the transition
    they describe, so the log never shows a transition that did not happen. Event ids are
    opaque strings, ordered as the log is; values are JSON types.
    """

    @abstractmethod
    def append(self, event: dict[str, Any]) -> str:
        """Append `event` (keys of EVENT_KEYS except `id` and `ts`, which the log assigns,
        plus any JSON-serializable extras); returns its id."""

    @abstractmethod
    def read(
        self, after: str | None = None, limit: int = 100, block: float = 0.0
    ) -> list[dict[str, Any]]:
        """Up to `limit` events after the event with id `after`, oldest first; with
        `after=None`, the newest `limit`. When there are none, waits up to `block` seconds
        for the next ones to arrive."""


# -- alerts ----------------------------------------------------------------------------------
ALERT_STATES = ("firing", "acknowledged", "resolved")
OPEN_ALERT_STATES = ("firing", "acknowledged")
# The states each transition moves an alert from: acknowledge what fires, resolve what is open.
ALERT_MOVES = {"acknowledged": ("firing",), "resolved": OPEN_ALERT_STATES}
# An alert row (`runtime alert list --json` prints ALERT_KEYS; the rest is bookkeeping).
ALERT_KEYS = ("id", "rule", "severity", "queue", "state", "message", "since")
ALERT_FIELDS = (
    *ALERT_KEYS,
    "updated_at",
    "acknowledged_by",
    "acknowledged_at",
    "resolved_by",
    "resolved_at",
)


def alert_changes(state: str, by: str | None, now: float) -> dict[str, Any]:
    """The fields an alert's move to `state` (acknowledged or resolved) sets."""
    prefix = "acknowledged" if state == "acknowledged" else "resolved"
    return {"state": state, "updated_at": now, f"{prefix}_by": by, f"{prefix}_at": now}


class AlertStore(ABC):
    """Alerts and their lifecycle: firing -> acknowledged -> resolved (runtime.alerts).

    An alert is identified by (rule, queue) while open (firing or acknowledged): at most
    one open alert per pair. Once resolved it is history; the same condition coming back
    is a new alert with a new id. Ids are integers, increasing. Rows are dicts with the
    keys of ALERT_FIELDS; times are unix timestamps, absent ones None.
    """

    @abstractmethod
    def open_alerts(self) -> list[dict[str, Any]]:
        """Every firing or acknowledged alert, oldest first."""

    @abstractmethod
    def history(self, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` resolved alerts, last resolved first."""

    @abstractmethod
    def get(self, alert_id: int) -> dict[str, Any] | None: ...

    @abstractmethod
    def fire(
        self, rule: str, severity: str, queue: str, message: str, now: float
    ) -> dict[str, Any] | None:
        """A new firing alert for (rule, queue), or None (nothing stored) when one is open."""

    @abstractmethod
    def refresh(self, alert_id: int, severity: str, message: str, now: float) -> None:
        """An open alert's condition still holds with another severity or message."""

    @abstractmethod
    def transition(
        self, alert_id: int, state: str, by: str | None, now: float
    ) -> tuple[str | None, dict[str, Any] | None]:
        """Move an open alert to `state` (acknowledged: only from firing; resolved: from
        either open state), recording `by` and `now`. Returns (the state it was in, the
        row after) in one atomic step: (None, None) for an unknown id, and the row
        unchanged when the move does not apply."""

    @abstractmethod
    def prune(self, resolved_before: float) -> int:
        """Delete resolved alerts resolved before then; returns how many."""

    @abstractmethod
    def mark_evaluated(self, now: float) -> None:
        """Record that the rules were evaluated and stored at `now`."""

    @abstractmethod
    def last_evaluated(self) -> float | None:
        """When the rules were last evaluated and stored, or None if never."""


# -- cluster: leadership and dead workers ----------------------------------------------------
class Cluster(ABC):
    """What daemons and workers coordinate through (runtime/daemon.py, runtime/worker.py).

    Leadership is a lease: one candidate holds it until its ttl runs out unless it renews
    it, so a leader that dies hands over within one ttl and a live one keeps it.
    """

    @abstractmethod
    def lead(self, candidate: str, ttl: float) -> bool:
        """Atomically take the lead if nobody holds it (or the lease expired), or extend it
        to now + ttl if `candidate` holds it. True when `candidate` leads afterwards."""

    @abstractmethod
    def resign(self, candidate: str) -> None:
        """Give up the lead if `candidate` holds it (a stopping daemon hands over at once)."""

    @abstractmethod
    def leader(self) -> str | None:
        """The candidate holding an unexpired lead, or None."""

    @abstractmethod
    def worker_jobs(self, queue: str, worker_id: str) -> list[str]:
        """Ids of `queue`'s active jobs claimed under `worker_id` (the record's `worker`),
        sorted: a process worker's running jobs, wherever its children run them."""

    @abstractmethod
    def expire_leases_of_dead_workers(
        self, queue: str, live_worker_ids: list[str], claimed_before: float
    ) -> list[str]:
        """Set the lease deadline of `queue`'s active jobs to now when their `worker` is
        not in `live_worker_ids` and they were claimed (`started_at`) before
        `claimed_before`; returns their ids. `reap_expired` then recovers them (counting
        the stall) without waiting for the lease to run out. `claimed_before` (the caller
        passes now - heartbeat ttl) spares claims newer than the list of live workers,
        and tolerates clocks that differ between hosts."""


# -- cancellation ----------------------------------------------------------------------------
CANCELABLE_STATES = ("waiting", "delayed", "retrying", "active")


class Cancellation(ABC):
    """Canceling jobs (`runtime job cancel`). Waiting, delayed and retrying jobs become
    canceled at once. An active job is canceled cooperatively: the cancel request names
    its claim's token, its worker polls requests for the jobs it runs (`requested`), sets
    `ctx.cancelled` and, once the job has stopped, records it with `finish`. A request
    made for an earlier claim never matches a later one, so it needs no cleaning up."""

    @abstractmethod
    def cancel(self, job_id: str) -> str | None:
        """Cancel `job_id`; returns the state it was in (None: no such job). Waiting,
        delayed, retrying: it is now canceled (final: `finished_at`, the canceled index,
        idempotency key as in other final states). Active: a cancel request is recorded.
        Final: nothing changes."""

    @abstractmethod
    def requested(self, claims: dict[str, str]) -> set[str]:
        """Of the claims given as {job id: token}, those with a cancel request, in one
        backend call."""

    @abstractmethod
    def finish(self, job_id: str, token: str) -> bool:
        """Active -> canceled (final), releasing the lease. False if the token is stale."""


# -- metrics ---------------------------------------------------------------------------------
# Outcomes counted per minute. `stalled` and `recovered` come from the reaper, which knows
# the queue but not the job names: they are recorded under the job name QUEUE_WIDE.
OUTCOMES = ("completed", "failed", "retried", "stalled", "recovered")
QUEUE_WIDE = "*"


@dataclass
class MetricBucket:
    """One minute (or one day) of one job's metrics: counts by OUTCOMES, and wait and run
    time histograms as {bucket index: count} (the index scale is runtime.stats').

    Stored as a string of hex digits writing a sequence of numbers: the count of counts
    kept (trailing zeros dropped) and those counts, then each histogram as the length of
    its occupied range (0 when empty), its lowest index and the counts from there up (a
    job's times span a few buckets). A number is written in octal, most significant digit
    first, every digit but its last one plus 8: 0-7 take one digit, up to 63 two, and no
    separators are needed. An empty bucket is `000`; `[5, 0, 1] {40: 3, 43: 1} {}` is
    `3501 4d03001 0` (without the spaces). Hex digits because Redis keeps whole sequences
    of buckets packed two digits per byte (`pack_buckets`): a busy minute with both
    histograms takes about 20 bytes there. redis_metrics.lua merges the same format."""

    counts: list[int] = field(default_factory=lambda: [0] * len(OUTCOMES))
    wait: dict[int, int] = field(default_factory=dict)
    run: dict[int, int] = field(default_factory=dict)

    def merge(self, other: MetricBucket) -> MetricBucket:
        """Add `other` into this bucket; returns self."""
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        for mine, theirs in ((self.wait, other.wait), (self.run, other.run)):
            for index, count in theirs.items():
                mine[index] = mine.get(index, 0) + count
        return self

    def count(self, outcome: str) -> int:
        return self.counts[OUTCOMES.index(outcome)]

    def empty(self) -> bool:
        return not any(self.counts) and not self.wait and not self.run

    def encode(self) -> str:
        counts = list(self.counts)
        while counts and not counts[-1]:
            counts.pop()
        numbers = [len(counts), *counts, *_histogram_numbers(self.wait)]
        return "".join(map(_digits, [*numbers, *_histogram_numbers(self.run)]))

    @classmethod
    def decode(cls, text: str) -> MetricBucket:
        return cls.decode_all(text)[0]

    @classmethod
    def decode_all(cls, text: str) -> list[MetricBucket]:
        """The buckets written one after the other in `text` (numbers missing at its end
        read as 0, so a padding digit reads as one more, empty, bucket)."""
        numbers = _numbers(text)
        return [cls._read(kept, numbers) for kept in numbers]

    @classmethod
    def _read(cls, kept: int, numbers: Iterator[int]) -> MetricBucket:
        counts = [next(numbers, 0) for _ in range(kept)]
        counts += [0] * (len(OUTCOMES) - len(counts))
        return cls(counts, _read_histogram(numbers), _read_histogram(numbers))


# Hand-written (no library writes this format): redis_metrics.lua must read it too.
_CONTINUED = str.maketrans("01234567", "89abcdef")


def _digits(number: int) -> str:
    octal = f"{number:o}"
    return octal[:-1].translate(_CONTINUED) + octal[-1]


def _numbers(text: str) -> Iterator[int]:
    value = 0
    for digit in text:
        nibble = int(digit, 16)
        value = value * 8 + nibble % 8
        if nibble < 8:
            yield value
            value = 0


def _histogram_numbers(histogram: dict[int, int]) -> list[int]:
    if not histogram:
        return [0]
    low, high = min(histogram), max(histogram)
    return [high - low + 1, low, *(histogram.get(i, 0) for i in range(low, high + 1))]


def _read_histogram(numbers: Iterator[int]) -> dict[int, int]:
    length = next(numbers, 0)
    low = next(numbers, 0) if length else 0
    counts = ((low + i, next(numbers, 0)) for i in range(length))
    return {index: count for index, count in counts if count}


def pack_buckets(buckets: list[MetricBucket]) -> bytes:
    """`buckets` (trailing empty ones dropped) as Redis stores them, two digits per byte."""
    while buckets and buckets[-1].empty():
        buckets = buckets[:-1]
    text = "".join(bucket.encode() for bucket in buckets)
    return bytes.fromhex(text + "0" * (len(text) % 2))


def unpack_buckets(packed: bytes) -> list[MetricBucket]:
    return MetricBucket.decode_all(packed.hex())


# The metrics of one flush: (job name, minute since the epoch) -> that minute's bucket.
MetricBatch = dict[tuple[str, int], MetricBucket]

MINUTES_KEPT = 24 * 60  # per-minute buckets are kept 24 hours (Redis: up to 25, by hour)
DAYS_KEPT = 30  # daily totals are kept 30 days


def daily_counts(batch: MetricBatch) -> MetricBatch:
    """The counts of `batch` added up per (job, day since the epoch), without histograms."""
    days: MetricBatch = {}
    for (job, minute), bucket in batch.items():
        day = days.setdefault((job, minute // 1440), MetricBucket())
        day.counts = [a + b for a, b in zip(day.counts, bucket.counts, strict=True)]
    return days


def outcome_counts(batch: MetricBatch) -> dict[tuple[str, str], int]:
    """The non-zero counts of `batch` per (job, outcome): what lifetime totals add."""
    totals: dict[tuple[str, str], int] = {}
    for (job, _), bucket in batch.items():
        for outcome, count in zip(OUTCOMES, bucket.counts, strict=True):
            if count:
                totals[(job, outcome)] = totals.get((job, outcome), 0) + count
    return totals


class MetricStore(ABC):
    """Per-minute and daily metrics of each queue and job (runtime.stats writes and reads
    them). Writers are the worker processes, each flushing what it aggregated in memory;
    buckets from several processes for the same minute add up. Minutes and days are
    counted from the unix epoch (UTC)."""

    @abstractmethod
    def add(self, queue: str, batch: MetricBatch) -> None:
        """Merge `batch` into the per-minute buckets, the daily totals (counts only) and the
        lifetime totals per (job, outcome), in one round trip / one transaction."""

    @abstractmethod
    def minutes(self, queue: str, first: int, last: int, job: str | None = None) -> MetricBatch:
        """Buckets of minutes `first`..`last` (inclusive) of `queue`, every job's (including
        QUEUE_WIDE) or only `job`'s. Minutes older than MINUTES_KEPT may be gone."""

    @abstractmethod
    def days(self, queue: str, first: int, job: str | None = None) -> MetricBatch:
        """Daily totals (counts only) from day `first` on, keyed (job, day)."""

    @abstractmethod
    def totals(self, queues: list[str]) -> dict[tuple[str, str, str], int]:
        """Lifetime counts {(queue, job, outcome): n} of the given queues; they never
        shrink (Prometheus counters)."""

    @abstractmethod
    def prune(self, queue: str, now: float) -> int:
        """Drop `queue`'s buckets older than the retention; returns how many (a backend
        whose keys expire by themselves does nothing)."""
