"""One queue's Huey: lease-based claims, outcomes recorded through the backend, JSON.

We extend Huey rather than fork it. Huey keeps doing what it does well: the Task model
with retries / retry_delay / retry_backoff / timeout, `_execute` with its exception
handling, the Consumer with its worker threads or processes, the scheduler loop and
crontab. We change only where a message lives while it runs:

- `dequeue` claims a message with a lease and a fencing token instead of popping it;
- the post-execute hook records `completed` / `failed` (dead-letter) with that token; a
  completion also claims the thread's next job in the same backend call (prefetch);
- `_requeue_task` records `retrying` with backoff + jitter, atomically with the release;
- `read_schedule` promotes due delayed jobs and reaps expired leases inside the backend,
  so a message is never held only in this process's memory;
- `read_periodic` fires cron jobs once per minute across daemons (an atomic claim).

The leases of running jobs are renewed, and cancel requests relayed to them, by one
lease keeper thread per process (runtime.leases).

Some of these overrides and attributes are Huey's private ones (`_requeue_task`,
`_tasks_in_flight`, `_registry`...): pyproject pins Huey's minor release and
tests/test_huey_internals.py names each one, so an upgrade that moves one fails there.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import multiprocessing
import os
import random
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from huey import Huey
from huey.api import Task
from huey.exceptions import CancelExecution, HueyException
from huey.registry import Registry
from huey.signals import SIGNAL_INTERRUPTED

from runtime.backends import outage_errors
from runtime.backends.base.storage import Backend, Claim, NewJob
from runtime.cron import CronTicker
from runtime.errors import InvalidPayload
from runtime.jobs import JobContext, JobSpec
from runtime.leases import LeaseKeeper
from runtime.messages import MESSAGE_CAP, TRACEBACK_CAP, PoisonMessage, capped, encode_result
from runtime.serializer import JSONSerializer
from runtime.stats import Recorder

log = logging.getLogger("runtime.engine")

JITTER = 0.25  # retry delays vary by +-25% so failed jobs don't retry in lock-step
# A pause stops claims within 1 s (DESIGN): a thread may act on a pause flag read up to
# PAUSE_CHECK_SECONDS ago and then wait up to CLAIM_TIMEOUT in a claim, 0.75 s in all.
PAUSE_CHECK_SECONDS = 0.25
CLAIM_TIMEOUT = 0.5
CANCELED_EXIT = 75  # a process worker ended because its canceled job would not stop


class JobTask(Task):
    """A Huey task whose `execute` runs a registered job with a JobContext."""

    spec: JobSpec
    engine: RuntimeHuey
    lease_token: str = ""
    attempt: int = 0
    context: JobContext | None = None
    started: float = 0.0  # monotonic time the job's function was entered
    last_error: dict[str, Any] | None = None
    cancel_seen: float | None = None  # monotonic time its cancel request was noticed
    wait: float | None = None  # first attempts: seconds from ready to claimed (metrics)

    def execute(self) -> Any:
        return self.engine.run_job(self)


class JobNameRegistry(Registry):
    """Huey's registry keyed by the job name alone (Huey would prefix the module)."""

    def task_to_string(self, task_class: type) -> str:
        return task_class.__name__


class RuntimeHuey(Huey):
    """Huey for one queue of the runtime: see the module docstring for what changes."""

    def __init__(
        self,
        queue: str,
        backend: Backend,
        specs: list[JobSpec],
        *,
        lease_seconds: float,
        renew_interval: float = 5.0,
        claim_timeout: float = CLAIM_TIMEOUT,
        notify: Callable[..., None] | None = None,
        max_stalls: int = 3,
        cancel_grace: float | None = None,
    ) -> None:
        """`cancel_grace`: seconds a canceled job may take to stop before its process is
        ended (process workers); None: never (a thread cannot be killed)."""
        # Set before Huey.__init__, which calls create_storage().
        self.backend = backend
        super().__init__(name=queue, results=False, utc=True, serializer=JSONSerializer())
        # Claims wait for work themselves; Huey must not add its polling sleep on top.
        backend.blocking = True
        self.queue = queue
        self.lease_seconds = lease_seconds
        self.claim_timeout = claim_timeout
        self.stop_flag: Any = None  # the consumer's stop flag, set by runtime.worker
        self._claims_waiting = _Counter()
        self.max_stalls = max_stalls
        self.notify = notify
        self.cancel_grace = cancel_grace
        # Shared memory: process workers are forked children, and the heartbeat (in the
        # parent) must count the jobs they run.
        self._processed = multiprocessing.Value("q", 0)
        self._registry = JobNameRegistry()
        self._paused_until_check = 0.0
        self._paused = False
        self.cron_specs = [spec for spec in specs if spec.cron and spec.queue == queue]
        self.cron = CronTicker(backend, self.cron_specs)
        for spec in specs:
            self._registry.register(_task_class(spec, self))
        self._prefetched = PrefetchSlots()
        self.post_execute("runtime.outcome")(self._record_outcome)
        self.on_shutdown("runtime.release_prefetched")(self._release_prefetched)
        self.stats = Recorder(backend, queue)
        self.on_shutdown("runtime.flush_metrics")(self.stats.flush)
        self.leases = LeaseKeeper[JobTask](
            backend,
            lease_seconds=lease_seconds,
            renew_interval=renew_interval,
            cancel_grace=cancel_grace,
            running=lambda: self._tasks_in_flight,
            held=self._prefetched,
            end_canceled=self._end_canceled,
        )
        self.on_startup("runtime.renew_leases")(self.leases.start)
        self.signal(SIGNAL_INTERRUPTED)(self._release_interrupted)

    def create_storage(self) -> Backend:
        return self.backend

    # -- claiming --------------------------------------------------------------------
    def dequeue(self) -> JobTask | None:
        claim = self._take_prefetched()
        if claim is None:
            if self._is_paused() or self._stopping():
                time.sleep(PAUSE_CHECK_SECONDS)
                return None
            with self._claims_waiting:
                claim = self.backend.claim(self.queue, self.lease_seconds, self.claim_timeout)
            if claim is None:
                return None
        if self._stopping():
            # A drain began while this thread waited for work (a job released by another
            # thread's shutdown wakes it): hand the claim straight back.
            self.backend.release(claim.job_id, claim.token)
            return None
        return self._task_for(claim)

    def _stopping(self) -> bool:
        return self.stop_flag is not None and self.stop_flag.is_set()

    def _task_for(self, claim: Claim) -> JobTask | None:
        """The claimed message as a Huey task, or None after dead-lettering a poison one."""
        try:
            task: JobTask = self.deserialize_task(claim.data)
            if task.id != claim.job_id:
                # Every ack is fenced by the record's id: a message naming another id could
                # never finish, only run again after each lease expiry.
                raise PoisonMessage(f"message names job id {task.id}, stored as {claim.job_id}")
        # Decoding is local and pure: whatever it raises, the message cannot run, ever.
        except Exception as exc:
            reason = capped(_poison_reason(exc), MESSAGE_CAP)
            log.error(
                "dead-lettered message %s: %s",
                claim.job_id,
                reason,
                extra={"job_id": claim.job_id, "queue": self.queue},
            )
            error = {"type": "PoisonMessage", "message": reason, "traceback": None}
            self.backend.fail(claim.job_id, claim.token, error)
            return None
        task.lease_token = claim.token
        task.attempt = claim.attempt
        task.eta = None  # the backend already held it until its eta
        if claim.attempt == 1 and claim.wait is not None:
            task.wait = claim.wait
        return task

    def _take_prefetched(self) -> Claim | None:
        return self._prefetched.take()

    def _release_prefetched(self) -> None:
        """A worker thread is stopping: hand back the job its last ack claimed for it."""
        claim = self._take_prefetched()
        if claim is not None:
            self.backend.release(claim.job_id, claim.token)

    def _is_paused(self) -> bool:
        now = time.monotonic()
        if now >= self._paused_until_check:
            self._paused = self.queue in self.backend.paused_queues()
            self._paused_until_check = now + PAUSE_CHECK_SECONDS
        return self._paused

    def is_revoked(self, task: Task, timestamp: Any = None, peek: bool = True) -> bool:
        # Cancellation is the backend's `canceled` state, not Huey's revoke keys: skip
        # Huey's per-task revoke lookups (two backend reads per job for nothing).
        return False

    def delete(self, key: str) -> bool:
        # Huey deletes a task's revoke key after each run; we keep none (see is_revoked).
        return False

    # -- running ---------------------------------------------------------------------
    def run_job(self, task: JobTask) -> Any:
        try:
            kwargs = task.spec.validate(task.kwargs)
        except InvalidPayload as exc:
            task.last_error = _error_of(exc)
            raise CancelExecution(str(exc), retry=False) from exc
        context = JobContext(
            task.id,
            task.spec.name,
            task.attempt,
            lambda pct, stage: self._progress(task, pct, stage),
        )
        task.context = context
        if task.cancel_seen is not None:  # noticed before the context existed
            context.cancel()
        if task.spec.context_param:
            kwargs[task.spec.context_param] = context
        task.started = time.monotonic()
        try:
            return task.spec.func(**kwargs)
        finally:
            with self._processed.get_lock():
                self._processed.value += 1

    @property
    def processed(self) -> int:
        """Jobs run by this queue's workers (every process worker included)."""
        return int(self._processed.value)

    def _progress(self, task: JobTask, percent: float, stage: str | None) -> None:
        if not self.backend.progress(task.id, task.lease_token, percent, stage):
            log.warning("job %s lost its lease; progress not recorded", task.id)

    # -- outcomes --------------------------------------------------------------------
    def _record_outcome(self, task: JobTask, value: Any, exception: BaseException | None) -> None:
        with _recording(task):
            self._record(task, value, exception)

    def _record(self, task: JobTask, value: Any, exception: BaseException | None) -> None:
        if task.cancel_seen is not None:  # whatever the job did after a cancel request
            recorded = self.backend.cancels.finish(task.id, task.lease_token)
            self._finished(task, "canceled", recorded, None)
            return
        if exception is None:
            self._complete(task, encode_result(value))
            return
        error = task.last_error or _error_of(exception)
        task.last_error = error
        if task.retries:  # Huey calls _requeue_task next
            return
        recorded = self.backend.fail(task.id, task.lease_token, error)
        self._finished(task, "failed", recorded, error)

    def _complete(self, task: JobTask, result: str | None) -> None:
        """Ack, and unless the queue is paused take this thread's next job in the same
        round trip; `dequeue` picks it up (one backend call per job instead of two)."""
        if self._is_paused():
            recorded = self.backend.complete(task.id, task.lease_token, result)
        else:
            recorded, claim = self.backend.complete_and_claim(
                task.id, task.lease_token, result, self.queue, self.lease_seconds
            )
            self._prefetched.hold(claim)
        self._finished(task, "completed", recorded, None)

    def _requeue_task(self, task: JobTask, timestamp: Any, retry_eta: Any = None) -> None:
        if task.cancel_seen is not None:  # recorded as canceled by _record: no retry
            return
        with _recording(task):
            self._retry(task, retry_eta)

    def _retry(self, task: JobTask, retry_eta: Any) -> None:
        task.retries -= 1
        delay = float(task.retry_delay or 0) * random.uniform(1 - JITTER, 1 + JITTER)
        if task.retry_backoff:
            task.retry_delay = float(task.retry_delay or 0) * task.retry_backoff
        eta = _unix(retry_eta) if retry_eta is not None else time.time() + delay
        error = task.last_error or {
            "type": "Retry",
            "message": "retry requested",
            "traceback": None,
        }
        task.last_error = None
        recorded = self.backend.retry(
            task.id, task.lease_token, self.serialize_task(task), eta, error
        )
        if recorded and eta <= time.time():
            self.backend.promote_due(self.queue)
        self._finished(task, "retrying", recorded, error)

    def _finished(
        self, task: JobTask, state: str, recorded: bool, error: dict[str, Any] | None
    ) -> None:
        seconds = round(time.monotonic() - task.started, 3) if task.started else None
        extra = {
            "job_id": task.id,
            "job": task.spec.name,
            "queue": self.queue,
            "attempt": task.attempt,
            "state": state,
            "seconds": seconds,
        }
        if not recorded:
            log.warning(
                "job %s lost its lease before finishing; its %s outcome was ignored",
                task.id,
                state,
                extra=extra,
            )
            return
        run_time = time.monotonic() - task.started if task.started else None
        self.stats.record(task.spec.name, state, run_time, task.wait)
        if error is None:
            log.info("job %s %s %s in %ss", task.spec.name, task.id, state, seconds, extra=extra)
        else:
            # The traceback is on the job record (`runtime job show`); the log keeps one line.
            log.warning(
                "job %s %s %s: %s: %s",
                task.spec.name,
                task.id,
                state,
                error["type"],
                error["message"],
                extra=extra,
            )
        if self.notify is not None:
            self.notify(
                "job_finished",
                job=task.spec.name,
                job_id=task.id,
                queue=self.queue,
                state=state,
                attempt=task.attempt,
                error=error,
            )

    def _release_interrupted(self, signal: str, task: JobTask, *args: Any) -> None:
        """Shutdown left this job running: hand it back so another worker takes it now.

        Not before this process's idle workers have left their claim call (they take no
        new one once the stop flag is set): the release wakes waiting claimers, and one
        of ours would take the job back only to die with this process a moment later."""
        self._claims_waiting.wait_until_idle(self.claim_timeout + 1)
        if self.backend.release(task.id, task.lease_token):
            log.warning("released job %s at shutdown", task.id, extra={"job_id": task.id})

    def _end_canceled(self, task: JobTask) -> None:
        """The canceled job ignores `ctx.cancelled`: record it canceled and end this worker
        process (Huey's consumer starts a new one); its other state dies with it."""
        recorded = self.backend.cancels.finish(task.id, task.lease_token)
        self._finished(task, "canceled", recorded, None)
        log.warning(
            "job %s did not stop %ss after it was canceled; ending its worker process %d",
            task.id,
            self.cancel_grace,
            os.getpid(),
            extra={"job_id": task.id, "queue": self.queue},
        )
        os._exit(CANCELED_EXIT)

    # -- scheduling ------------------------------------------------------------------
    def read_schedule(self, timestamp: Any = None) -> list[Task]:
        try:
            # On the backend's clock: a host whose clock runs ahead must not take live leases.
            self.backend.promote_due(self.queue)
            reaped = self.backend.reap_expired(self.queue, max_stalls=self.max_stalls)
        except outage_errors() as exc:  # one line, not Huey's traceback; the next tick retries
            log.warning("promoting and reaping %s failed: %s", self.queue, exc)
            return []
        self.stats.record_reaped(len(reaped.recovered), len(reaped.stalled))
        extra = {"queue": self.queue}
        if reaped.recovered:
            count = len(reaped.recovered)
            log.warning(
                "returned %d jobs with expired leases to %s", count, self.queue, extra=extra
            )
        if reaped.stalled:
            log.error(
                "dead-lettered %d jobs of %s as stalled: their lease expired %d times",
                len(reaped.stalled),
                self.queue,
                self.max_stalls,
                extra={**extra, "job_ids": reaped.stalled},
            )
        return []

    def read_periodic(self, timestamp: datetime.datetime | None) -> list[Task]:
        """Cron jobs due this minute that no other daemon has fired yet (runtime/cron.py)."""
        now = timestamp or self._get_timestamp()
        return [self._registry.string_to_task(spec.name)() for spec in self.cron.due(now)]

    def enqueue(self, task: Task) -> None:
        """Huey's scheduler enqueues cron tasks here; route them through the backend."""
        self.backend.push(
            NewJob(
                id=task.id,
                job=task.name,
                queue=self.queue,
                data=self.serialize_task(task),
                payload={},
                priority=task.priority or 0,
            )
        )


class _Counter:
    """How many threads are inside a block; usable as `with counter:`."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            self._count += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._count -= 1

    def wait_until_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self._count and time.monotonic() < deadline:
            time.sleep(0.01)


class PrefetchSlots:
    """Each worker thread's next claim, taken by its last ack and not started yet.

    Kept where the lease keeper sees them (HeldClaims), not in a thread-local: the claim's
    lease must be renewed while the previous job's hooks run, however slow they are. A
    claim whose lease was lost meanwhile is dropped, so this thread never starts a job
    another worker may be running."""

    def __init__(self) -> None:
        self._claims: dict[int, Claim] = {}  # worker thread id -> its next claim
        self._lock = threading.Lock()  # a drop must not race the take of the same claim

    def hold(self, claim: Claim | None) -> None:
        if claim is not None:
            with self._lock:
                self._claims[threading.get_ident()] = claim

    def take(self) -> Claim | None:
        with self._lock:
            return self._claims.pop(threading.get_ident(), None)

    def tokens(self) -> dict[str, str]:
        with self._lock:
            return {claim.job_id: claim.token for claim in self._claims.values()}

    def drop(self, job_ids: set[str]) -> None:
        with self._lock:
            for thread, claim in list(self._claims.items()):
                if claim.job_id in job_ids:
                    del self._claims[thread]


@contextlib.contextmanager
def _recording(task: JobTask) -> Iterator[None]:
    """An outcome the backend could not take (outage) is not lost: the job keeps its lease
    until it expires and then runs again. Say so; never let it kill the worker thread."""
    try:
        yield
    except Exception as exc:
        log.error(
            "could not record the outcome of job %s (%s); it will run again when its lease expires",
            task.id,
            exc,
            extra={"job_id": task.id, "job": task.spec.name},
        )


def _task_class(spec: JobSpec, engine: RuntimeHuey) -> type[JobTask]:
    attrs = {
        "spec": spec,
        "engine": engine,
        "default_retries": spec.retries,
        "default_retry_delay": spec.retry_delay,
        "default_retry_backoff": spec.retry_backoff,
        "default_priority": spec.priority,
        "default_timeout": spec.timeout,
    }
    return type(spec.name, (JobTask,), attrs)


def _error_of(exc: BaseException) -> dict[str, Any]:
    """The error a job's record (and, without the traceback, its event) keeps, capped:
    a message can quote a whole payload, a traceback a deep recursion."""
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {
        "type": type(exc).__name__,
        "message": capped(str(exc), MESSAGE_CAP),
        "traceback": capped(trace, TRACEBACK_CAP),
    }


def _poison_reason(exc: Exception) -> str:
    if isinstance(exc, HueyException) and "not found in TaskRegistry" in str(exc):
        return f"unknown job '{str(exc).split(' not found')[0]}'"
    if isinstance(exc, PoisonMessage | HueyException):
        return str(exc)
    return f"cannot decode the message ({type(exc).__name__}: {exc})"


def _unix(value: Any) -> float:
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=datetime.UTC).timestamp()
    return float(value)
