"""`runtime verify`: prove on the user's own backend that a killed worker loses nothing.

It starts a real daemon for a private queue, enqueues a few hundred diagnostics jobs,
SIGKILLs the queue's worker process while jobs run, lets the supervisor restart it and
the lease reaper hand the interrupted jobs to the new worker, then counts: jobs lost
(must be 0), jobs that ran twice, and how long recovery took. It cleans up after itself:
its jobs are deleted and its queue forgotten (`runtime status` does not list it after).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from runtime.backends.base.storage import Backend
from runtime.config import Config
from runtime.errors import BadInput, RuntimeJobError
from runtime.producer import Runtime

POLL = 0.2
log = logging.getLogger("runtime.verify")


@dataclass
class Report:
    backend: str
    queue: str
    jobs: int
    completed: int
    lost: int
    ran_twice: int
    killed_pid: int
    recovery_seconds: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_verify(config: Config, config_path: str | None, jobs: int = 300) -> Report:
    runtime = Runtime(config=config)
    if "diagnostics.sleep" not in runtime.registry:
        raise BadInput("verify needs the diagnostics plugin: pip install -e plugins/diagnostics.")
    queue = f"verify-{uuid.uuid4().hex[:8]}"
    ids = runtime.enqueue_many(
        "diagnostics.sleep", [{"seconds": 0.02 + (i % 10) / 100} for i in range(jobs)], queue=queue
    )
    daemon = _start_daemon(config_path, queue)
    try:
        pid = _worker_pid(runtime, queue, timeout=30)
        _wait(lambda: _count(runtime, queue, "completed") >= jobs // 4, timeout=120)
        os.kill(pid, signal.SIGKILL)
        killed_at = time.time()
        budget = config.runtime.lease_seconds * 3 + jobs * 0.2 + 30
        _wait(lambda: _count(runtime, queue, "completed") >= jobs, timeout=budget)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=config.runtime.drain_timeout + 15)
    report = _report(runtime, queue, ids, pid, killed_at)
    _clean_up(runtime.backend, queue)
    return report


def _clean_up(backend: Backend, queue: str) -> None:
    """Delete the scratch queue's jobs and forget the queue: verify leaves nothing behind.
    Straight to the backend: control's checks would refuse while the killed worker's
    heartbeat, still within its ttl, names the queue."""
    backend.purge_queue(queue)
    if backend.forget_queue(queue):  # a job still active: the leading daemon forgets it later
        log.warning("queue %s still holds a running job; it stays known until it ends", queue)


def _start_daemon(config_path: str | None, queue: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "runtime", "start", "--queues", queue]
    if config_path:
        cmd += ["-c", config_path]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _worker_pid(runtime: Runtime, queue: str, timeout: float) -> int:
    """The pid of this host's worker process for `queue`, from its heartbeat."""
    host = socket.gethostname()

    def find() -> int | None:
        for worker in runtime.backend.workers():
            if worker.get("queue") == queue and worker.get("host") == host:
                return int(worker["pid"])
        return None

    pid = _wait(find, timeout)
    if pid is None:
        raise RuntimeJobError(
            f"the daemon started for {queue} published no worker heartbeat within {timeout:.0f}s."
        )
    return int(pid)


def _count(runtime: Runtime, queue: str, state: str) -> int:
    return runtime.backend.queue_counts([queue])[queue][state]


def _wait(predicate: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while (value := predicate()) in (None, False, 0):
        if time.monotonic() > deadline:
            return value
        time.sleep(POLL)
    return value


def _report(runtime: Runtime, queue: str, ids: list[str], pid: int, killed_at: float) -> Report:
    records = [runtime.job(job_id) or {} for job_id in ids]
    completed = [r for r in records if r.get("state") == "completed"]
    rerun = [r for r in completed if (r.get("attempts") or 0) > 1]
    recovery = max((r["finished_at"] for r in rerun), default=None)
    return Report(
        backend=runtime.backend.display_url,
        queue=queue,
        jobs=len(ids),
        completed=len(completed),
        lost=len(ids) - len(completed),
        ran_twice=len(rerun),
        killed_pid=pid,
        recovery_seconds=round(recovery - killed_at, 2) if recovery else None,
    )
