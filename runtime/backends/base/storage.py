"""The storage interface every backend implements: job records, leases, reads, admin.

The other concerns of a backend have an interface module each beside this one (events,
alerts, metrics, cluster, cancellation); a Backend reaches them as attributes.

A backend is also the storage Huey runs on (base/kv.py: its key-value operations, used
for locks and cron) and adds lease-based job operations:

    push -> waiting|delayed -> claim (active, leased, token) -> complete | retry | fail | release

Every operation on a claimed job carries the claim's token. A token goes stale when the
lease is reaped or the job is released; operations with a stale token change nothing and
return False (fencing), so a worker that lost its lease cannot complete the job later.

Times are unix timestamps (float seconds). Job records are plain dicts with the keys of
`RECORD_KEYS`; `runtime job show --json` prints them unchanged.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from runtime.backends.base.alerts import AlertStore
from runtime.backends.base.cancellation import Cancellation
from runtime.backends.base.cluster import Cluster
from runtime.backends.base.events import EventLog
from runtime.backends.base.kv import KeyValueStore
from runtime.backends.base.metrics import MetricStore

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
    """A message ready to be stored. `data` is the serialized message (JSON bytes), which
    holds `payload`: backends store it once, in the message, and read records' payloads
    from it."""

    id: str
    job: str
    queue: str
    data: bytes
    payload: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    # This process's clock: None or <= now: waiting; later: delayed. A backend whose clock
    # is another host's stores it as the same delay from its own now (NewJob.delay).
    eta: float | None = None
    key: str | None = None  # idempotency key
    # Seconds a final holder of `key` keeps it (0: the key is free at its final state).
    key_window: float = 0.0

    def delay(self) -> float | None:
        """Seconds until `eta` from now on this process's clock; None without an eta."""
        return None if self.eta is None else self.eta - time.time()


class FreshHeads(Protocol):
    """The message heads a bulk retry gives its jobs (fresh retries; messages.compose_head):
    `jobs` are the names that get one (their plugin is loaded; the others keep their
    message), `rest(job, priority)` the part after the id (messages.head_rest), computed
    once per name and priority, and `known()` those computed so far."""

    jobs: frozenset[str]

    def rest(self, job: str, priority: int) -> bytes: ...

    def known(self) -> Mapping[tuple[str, int], bytes]: ...

    def head(self, job_id: str, job: str, priority: int) -> bytes | None:
        """The head of that job, None for a job not in `jobs`."""
        ...


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
    """A job handed to one worker until `deadline` (the backend's clock) unless renewed."""

    job_id: str
    token: str
    data: bytes
    attempt: int
    deadline: float
    # Seconds from when the job became claimable (enqueued_at, or its eta if later) to
    # the claim, both on the backend's clock: runtime.stats' wait time of first attempts.
    wait: float | None = None


@dataclass(frozen=True)
class JobPage:
    """One page of `list_jobs`: the records, the cursor of the next page (or None), and
    how many index entries were looked at to find them (a search's progress)."""

    jobs: list[dict[str, Any]]
    next_cursor: str | None
    examined: int = 0


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


def state_cursor(queue: str, offset: int) -> str | None:
    """The `list_jobs(state=...)` cursor of rank `offset` in `queue`'s index of the state
    (None: its start), for a walk that removes jobs from the index as it goes."""
    return f"{offset}:{queue}" if offset else None


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
    now: float  # the backend's clock at the read (`Backend.now`): ages are measured on it


class Backend(KeyValueStore):
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
    #: Lifecycle and control events (base/events.py).
    events: EventLog
    #: Alerts and their history (base/alerts.py).
    alerts: AlertStore
    #: Per-minute and daily job metrics (base/metrics.py).
    metrics: MetricStore

    @abstractmethod
    def ping(self) -> None:
        """Raise BackendUnavailable with one sentence naming the backend if it cannot be used."""

    @abstractmethod
    def now(self) -> float:
        """The backend's clock (Unix seconds): the one every stored time is on.

        Hosts' clocks disagree; every lease deadline, due time, idempotency window and
        expiry is set and compared on this clock inside the backend's own operations, so
        callers need it only to compare stored times themselves (ages, windows)."""

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

    def renew(self, job_id: str, token: str, lease_seconds: float) -> bool:
        """Extend the lease to now + lease_seconds. False if the token is stale."""
        return job_id in self.renew_many({job_id: token}, lease_seconds)

    @abstractmethod
    def renew_many(self, claims: dict[str, str], lease_seconds: float) -> set[str]:
        """`renew` for every claim given as {job id: token}, in one round trip (a worker
        process renews all its jobs at once, so a slow backend costs one call, not one
        per job); returns the ids whose lease was extended."""

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
        """Active -> retrying, to be waiting again at `eta` (this process's clock, stored
        as the same delay on the backend's) with the new message `data` (fewer retries
        left); records `error` ({type, message, traceback})."""

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
    def promote_due(self, queue: str, now: float | None = None) -> int:
        """Delayed and retrying jobs whose eta <= now become waiting. Returns how many.
        `now`: the backend's clock (None), or a later time to look ahead."""

    @abstractmethod
    def reap_expired(self, queue: str, now: float | None = None, max_stalls: int = 3) -> Reaped:
        """Active jobs whose lease deadline < now (None: the backend's clock; a later time
        looks ahead) lost their worker: each gets `stalls + 1`
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
    def requeue_many(self, heads: dict[str, bytes | None]) -> int:
        """`requeue` for many jobs in one round trip (one script / one transaction): each
        job of `heads` whose head is given and whose stored message is compose's for it
        gets that head in place of the message's own, the payload kept where it is
        (messages.compose_head), so a bulk retry never reads or sends payloads; a None
        head, or a message of another shape, keeps the stored message. Returns how many
        were requeued (the others were not failed or canceled, and did not change)."""

    def requeue_failed(
        self, queue: str, until: float, offset: int, count: int, job: str | None, heads: FreshHeads
    ) -> tuple[int, int]:
        """One chunk of a bulk retry: of the failed jobs of `queue` that finished at or
        before `until`, oldest first, look at up to `count` from rank `offset` among them
        (finished_slice), and requeue those named `job` (any when None) with the head
        `heads` gives each in place of their own (requeue_many). Returns (how many it
        looked at, how many it requeued). This default takes two round trips; a backend
        may do it in one (Redis: one script per chunk)."""
        entries = self.finished_slice(queue, "failed", until, offset, count)
        wanted = {i: heads.head(i, name, p) for i, name, p in entries if job in (None, name)}
        return len(entries), self.requeue_many(wanted) if wanted else 0

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

    def delete(self, job_id: str) -> bool:
        """Delete a job that is not active, from its record and every index; its
        idempotency key is freed. False, changing nothing, when it is active or gone."""
        return self.delete_many([job_id]) == 1

    @abstractmethod
    def delete_many(self, job_ids: list[str], state: str | None = None) -> int:
        """`delete` for many jobs in one round trip, only those in `state` when given (a
        bulk delete of dead letters must not delete a job retried meanwhile); returns how
        many were deleted."""

    @abstractmethod
    def purge_queue(self, queue: str) -> int:
        """`delete` every job of `queue` that is not active, in bounded batches; returns
        how many. The completed total does not shrink."""

    # -- reading ---------------------------------------------------------------------
    @abstractmethod
    def get_job(self, job_id: str) -> dict[str, Any] | None:
        """The job record (keys of RECORD_KEYS), or None."""

    @abstractmethod
    def ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        """Up to `limit` ids of jobs (any state) starting with `prefix` (letters, digits,
        `.`, `_`, `-` only), sorted. On SQLite an index range; on Redis a SCAN of the job
        keys in bounded steps (it ends early once `limit` are found)."""

    def list_jobs(
        self,
        queue: str | None = None,
        state: str | None = None,
        job: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        match: Callable[[dict[str, Any]], bool] | None = None,
        budget: int | None = None,
    ) -> JobPage:
        """A page of job records, filtered by queue, state, job name and `match`.

        Without `state`: newest enqueued first. With `state`: in the order of that state's
        index (STATE_ORDER), queue after queue by name when `queue` is None. A page is a
        range read of an index from where `cursor` says the last one stopped, never a
        scan. A `job` filter or a `match` predicate (a search: it reads each record) is
        applied while walking the index and stops once it has examined about `budget`
        entries (SCAN_BUDGET when None), so a page may hold fewer than `limit` records and
        still have a `next_cursor`; `next_cursor` is None once the index is exhausted.
        Raises ValueError for a cursor that is not one this method handed out.
        """
        budget = SCAN_BUDGET if budget is None else budget
        # A job filter walks big slices and reads only job names until one matches.
        chunk = limit if job is None and match is None else min(max(limit, budget // 5), budget)
        if state is None:
            batches = self._push_order_walk(queue, cursor, chunk)
        else:
            batches = self._state_walk(queue, state, cursor, chunk)
        found: list[dict[str, Any]] = []
        examined = 0
        for batch in batches:
            for n, after, record in self._candidates(batch, job):
                if _matches(record, state, job) and (match is None or match(record)):
                    found.append(record)
                    if len(found) == limit:
                        return JobPage(found, after, examined + n)
            examined += len(batch)
            if examined >= budget:  # the next page goes on after the whole batch
                return JobPage(found, batch[-1][0], examined)
        return JobPage(found, None, examined)

    def _candidates(
        self, batch: list[tuple[str, str]], job: str | None
    ) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """(entries of the batch up to it, cursor after it, record) of a batch's jobs that
        still exist, only those named `job` when given (names are read first, records
        only for those)."""
        candidates = list(enumerate(batch, 1))
        if job is not None:
            named = self._having_job([job_id for _, job_id in batch], job)
            candidates = [entry for entry in candidates if entry[1][1] in named]
        records = self._records([job_id for _, (_, job_id) in candidates])
        for (n, (after, _)), record in zip(candidates, records, strict=True):
            if record is not None:
                yield n, after, record

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
    def finished_slice(
        self, queue: str, state: str, until: float, offset: int, count: int
    ) -> list[tuple[str, str, int]]:
        """Up to `count` (id, job name, priority) of `queue`'s jobs in the final `state`
        that finished at or before `until`, oldest first, from rank `offset` among them:
        what bulk actions walk, a chunk at a time, without reading records. A range read
        of the state's finish-time index (O(log n + count) on Redis)."""

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
        """Every queue that had a job pushed and was not forgotten since, sorted."""

    @abstractmethod
    def forget_queue(self, queue: str) -> int:
        """Drop `queue` from the known queues if it holds no job in any state, atomically
        with that check (a push that comes first keeps it; one that comes after makes it
        known again). Its completed total, pause flag, metrics (MetricStore.forget) and
        other bookkeeping go with it. Returns how many jobs it holds: 0 when it is
        forgotten (or was not known), else nothing changed."""

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
