"""The cluster interface: leadership among daemons, and the leases of dead workers."""

from __future__ import annotations

from abc import ABC, abstractmethod

# Active jobs expire_leases_of_dead_workers looks at per backend call.
EXPIRE_BATCH = 1000


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
        sorted: a process worker's running jobs, wherever its children run them. Called on
        every heartbeat, so it reads that worker's jobs only, never the queue's whole
        active set (Redis: a per-worker index; SQLite: one host's active rows)."""

    @abstractmethod
    def lease_deadlines(self, queue: str, job_ids: list[str]) -> dict[str, float]:
        """The lease deadline of each of `job_ids` that is active in `queue`, in one round
        trip: the dashboard marks a job whose lease ran out as stalled before a reaper
        gets to it (or when no daemon runs to reap it)."""

    @abstractmethod
    def expire_lease(self, queue: str, job_id: str) -> bool:
        """Set the lease deadline of `queue`'s active job `job_id` to 0 (long expired), so
        the next `reap_expired` recovers it: how an operator requeues one stalled job
        through the reaper's own transition (stall counted, token fenced, event
        written). False, changing nothing, when it is not active in `queue`."""

    @abstractmethod
    def expire_leases_of_dead_workers(
        self,
        queue: str,
        live_worker_ids: list[str],
        claimed_before: float,
        batch: int = EXPIRE_BATCH,
    ) -> list[str]:
        """Set the lease deadline of `queue`'s active jobs to now when their `worker` is
        not in `live_worker_ids` and they were claimed (`started_at`) before
        `claimed_before`; returns their ids. `reap_expired` then recovers them (counting
        the stall) without waiting for the lease to run out. `claimed_before` (the caller
        passes now - heartbeat ttl) spares claims newer than the list of live workers,
        and tolerates clocks that differ between hosts. Looks at no more than `batch`
        jobs per backend call (a script or a transaction), so a big active set never
        blocks the backend for long; a job the set's changes shift past during the walk
        is handed back by the next call, one heartbeat later."""
