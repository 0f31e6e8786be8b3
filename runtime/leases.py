"""Keeping the claims of one worker process alive, and relaying cancel requests to them.

Each worker process (a forked process worker too: its jobs run in it) runs one lease
keeper thread. Every `renew_interval` it renews the lease of every job running in the
process and of every claim held for a thread's next job (prefetched by an ack, not
started yet: the previous job's hooks may still be running), all in one backend call. A
running job whose lease was lost (reaped: another worker may run it now) is asked to
stop; a lost held claim is dropped, never started. Between renewals, every CANCEL_POLL_SECONDS,
it reads the cancel requests of the running jobs in one backend call and sets their
`ctx.cancelled`; a job that ignores it for `cancel_grace` seconds (process workers) is
ended by the engine's `end_canceled`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Generic, Protocol, TypeVar

from runtime.backends.base.storage import Backend
from runtime.jobs import JobContext

log = logging.getLogger("runtime.engine")

CANCEL_POLL_SECONDS = 1.0  # how often running jobs' cancel requests are polled


class HeldClaims(Protocol):
    """Claims taken for jobs not started yet (runtime.engine's prefetch slots)."""

    def tokens(self) -> dict[str, str]:
        """{job id: token} of every claim held now."""

    def drop(self, job_ids: set[str]) -> None:
        """Forget these claims: their leases were lost, another worker may run them."""


class RunningJob(Protocol):
    """What the keeper needs of a running job (runtime.engine's JobTask)."""

    id: str
    lease_token: str
    context: JobContext | None
    cancel_seen: float | None  # monotonic time its cancel request was noticed


Job = TypeVar("Job", bound=RunningJob)


class LeaseKeeper(Generic[Job]):
    """The lease keeper of one engine; `running()` lists the jobs in flight in this
    process; `end_canceled(job)` records a job that would not stop and ends the process."""

    def __init__(
        self,
        backend: Backend,
        *,
        lease_seconds: float,
        renew_interval: float,
        cancel_grace: float | None,
        running: Callable[[], Iterable[Job]],
        held: HeldClaims,
        end_canceled: Callable[[Job], None],
    ) -> None:
        self.backend = backend
        self.lease_seconds = lease_seconds
        self.renew_interval = renew_interval
        self.cancel_grace = cancel_grace
        self._running = running
        self._held = held
        self._end_canceled = end_canceled
        self._pid = 0

    def start(self) -> None:
        """Huey runs startup hooks in every worker: once per process (process workers are
        forked children, each with its own running jobs), start the keeper thread."""
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        threading.Thread(target=self._forever, name="LeaseRenewer", daemon=True).start()

    def _forever(self) -> None:
        """Renew leases every `renew_interval`; poll cancel requests every tick between.
        A due renewal goes first: on a stalled backend each call may wait a whole
        io_timeout, and the poll must not spend the lease's margin."""
        tick = min(CANCEL_POLL_SECONDS, self.renew_interval)
        next_renewal = time.monotonic() + self.renew_interval
        while True:
            time.sleep(tick)
            # Each in its own try: the backend may be down; keep trying, never die.
            if time.monotonic() >= next_renewal:
                next_renewal = time.monotonic() + self.renew_interval
                try:
                    self.renew_leases()
                except Exception as exc:
                    log.warning("lease renewal failed: %s", exc)
            try:
                self.watch_cancels()
            except Exception as exc:
                log.warning("polling cancel requests failed: %s", exc)

    def watch_cancels(self) -> None:
        """Ask the jobs of this process an operator canceled to stop (`ctx.cancelled`), in
        one backend call; end a process worker whose job outlived `cancel_grace`."""
        running = self._by_id()
        if not running:
            return
        for job_id in self.backend.cancels.requested(_claims(running)):
            job = running[job_id]
            if job.cancel_seen is None:
                job.cancel_seen = time.monotonic()
                log.info("job %s was canceled; asking it to stop", job_id, extra={"job_id": job_id})
            if job.context is not None:
                job.context.cancel()
            grace = self.cancel_grace
            if grace is not None and time.monotonic() - job.cancel_seen >= grace:
                self._end_canceled(job)

    def renew_leases(self) -> None:
        """Extend the lease of every job running in this process and of every held claim,
        in one backend call; cancel the running jobs lost, drop the held claims lost."""
        running = self._by_id()
        held = self._held.tokens()
        if not running and not held:
            return
        renewed = self.backend.renew_many({**held, **_claims(running)}, self.lease_seconds)
        if lost_held := held.keys() - renewed:
            log.warning("%d prefetched jobs lost their lease; dropped", len(lost_held))
            self._held.drop(lost_held)
        for job_id in running.keys() - renewed:
            log.warning("job %s lost its lease; asking it to stop", job_id)
            if (context := running[job_id].context) is not None:
                context.cancel()

    def _by_id(self) -> dict[str, Job]:
        """The jobs running in this process now, by id (a copy: jobs finish meanwhile)."""
        return {job.id: job for job in list(self._running())}


def _claims(running: dict[str, Job]) -> dict[str, str]:
    """{job id: token} of the running jobs: what the backend fences each call with."""
    return {job_id: job.lease_token for job_id, job in running.items()}
