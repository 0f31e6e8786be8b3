"""One queue's worker process: Huey's Consumer running our RuntimeHuey.

Started by the daemon (`python -m runtime.worker --queue Q -c CONFIG`). SIGTERM drains:
stop claiming, let running jobs finish for up to `drain_timeout`, then release the
leases of the ones still running so another worker picks them up at once. A second
SIGTERM forces the stop. SIGINT is ignored: the supervisor relays it as SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from huey.consumer import Consumer
from huey.exceptions import TaskTimeout

from runtime import heartbeat
from runtime.backends import open_backend
from runtime.backends.base.storage import Backend
from runtime.config import Config, load_config
from runtime.engine import RuntimeHuey
from runtime.errors import RuntimeJobError
from runtime.logs import setup_logging
from runtime.plugins import Plugins, load_plugins

log = logging.getLogger("runtime.worker")


class QueueConsumer(Consumer):
    """Huey's Consumer with our signal semantics: SIGTERM drains, SIGINT is ignored."""

    def __init__(self, huey: RuntimeHuey, config: Config) -> None:
        section = config.queue(huey.queue)
        super().__init__(
            huey,
            workers=section.workers,
            worker_type=section.worker_type,
            periodic=bool(huey.cron_specs),
            initial_delay=0.05,
            max_delay=1.0,
            shutdown_timeout=config.runtime.drain_timeout,
            graceful_signal="TERM",
        )
        self._signal_actions = {signal.SIGTERM: (False, True)}
        self._signal_handlers_set = False
        huey.stop_flag = self.stop_flag
        if section.worker_type == "thread":
            # Huey enforces timeouts with SIGALRM in process workers only.
            huey._timeout_handler = thread_timeout

    def start(self) -> None:
        # Huey sets its signal handlers only after forking the scheduler and the workers:
        # a SIGTERM in between ended this process (the default action) and left the
        # children forked so far running jobs with no parent, for ever. Set them before
        # the forks (each child resets its own in Huey's init_child): such a SIGTERM
        # drains instead, as soon as Consumer.run begins to loop.
        self._set_signal_handlers()
        super().start()

    def _set_signal_handlers(self) -> None:
        if self._signal_handlers_set:  # Huey's start sets them again after its forks,
            return  # which would undo the second-signal handler of a SIGTERM meanwhile
        self._signal_handlers_set = True
        super()._set_signal_handlers()
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def thread_timeout(seconds: float) -> Iterator[None]:
    """Raise TaskTimeout inside the running job thread when `seconds` pass.

    Python offers no way to kill a thread; PyThreadState_SetAsyncExc delivers the
    exception at the thread's next bytecode, so a job blocked in a C call times out
    when that call returns. Process workers get Huey's SIGALRM timeout instead.

    The exception must never land outside this block (in the worker's next claim or its
    next job): the timer fires only under `lock` while the block has not ended, and the
    block ends under the same lock, then clears an exception fired but not yet delivered
    (PyThreadState_SetAsyncExc with NULL). One fired during the ending is raised there,
    inside the block, as this job's timeout.
    """
    thread_id = ctypes.c_ulong(threading.get_ident())
    lock = threading.Lock()
    state = {"ended": False, "fired": False}

    def fire() -> None:
        with lock:
            if not state["ended"]:
                state["fired"] = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(thread_id, ctypes.py_object(TaskTimeout))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        try:
            with lock:
                state["ended"] = True
            timer.cancel()
        finally:  # even when the timeout is delivered right here
            if state["fired"]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(thread_id, None)


class Heartbeat(threading.Thread):
    """Publishes this worker process's heartbeat every `heartbeat_interval`, and nothing
    else: a heartbeat that waited behind other housekeeping would be missed, and other
    workers hand a silent worker's running jobs over as dead. Stops the consumer when the
    supervising daemon has gone (so a killed daemon leaves no orphan workers)."""

    def __init__(
        self, huey: RuntimeHuey, consumer: QueueConsumer, config: Config, backend: Backend
    ) -> None:
        super().__init__(name="Heartbeat", daemon=True)
        self.huey = huey
        self.consumer = consumer
        self.config = config
        # Its own connection, so that it never waits behind the workers' calls. Process
        # workers are forked while this thread runs: the SQLite backend quiesces itself
        # around every fork (runtime/backends/sqlite/connection.py says why).
        self.backend = backend
        self.parent = os.getppid()
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        # Claims record this id as the job's `worker`, every forked child's included:
        # the jobs a heartbeat names, and the ones its death hands back, are found by it.
        huey.backend.worker_id = self.worker_id
        self.started = time.time()
        # Set once the consumer has stopped, drain included: a draining worker still runs
        # jobs, and a silent one would have them handed to other workers while they run.
        self.finished = threading.Event()

    def run(self) -> None:
        # Publish at once: `runtime status` and `runtime verify` look for a fresh worker.
        self._tick()
        while not self.finished.wait(self.config.runtime.heartbeat_interval):
            self._tick()
        with contextlib.suppress(Exception):
            self.backend.remove_worker(self.worker_id)

    def _tick(self) -> None:
        if os.getppid() != self.parent and not self.consumer.stop_flag.is_set():
            log.error("daemon process %d is gone; stopping", self.parent)
            os.kill(os.getpid(), signal.SIGTERM)
        try:
            ttl = self.config.runtime.heartbeat_ttl()
            current = self.backend.cluster.worker_jobs(self.huey.queue, self.worker_id)
            self.backend.put_worker(self.worker_id, self.info(current), ttl)
        except Exception as exc:  # the backend may be down: keep trying, never die
            log.warning("heartbeat failed: %s", exc)

    def info(self, current_jobs: list[str]) -> dict[str, Any]:
        """The heartbeat: `current_jobs` are the active jobs claimed under this worker's id
        (a process worker's children run them, out of this process's sight)."""
        return heartbeat.beat(
            "worker",
            [self.huey.queue],
            self.started,
            self.huey.processed,
            current_jobs,
            queue=self.huey.queue,
            workers=self.consumer.workers,
            worker_type=self.consumer.worker_type,
            daemon=os.environ.get(heartbeat.DAEMON_ENV),
        )


class Housekeeper(threading.Thread):
    """Hands the jobs of dead workers back at once, every heartbeat interval, on a thread
    of its own beside the heartbeat (retention is the leading daemon's, runtime.daemon)."""

    def __init__(
        self, huey: RuntimeHuey, config: Config, backend: Backend, finished: threading.Event
    ) -> None:
        super().__init__(name="Housekeeper", daemon=True)
        self.queue = huey.queue
        self.config = config
        self.backend = backend  # its own connection, as the heartbeat's
        self.finished = finished
        # Monotonic time before which silent workers are not judged dead: after this
        # thread saw the backend fail, everyone's heartbeats may have failed too.
        self._judge_after = 0.0

    def run(self) -> None:
        ttl = self.config.runtime.heartbeat_ttl()
        while not self.finished.wait(self.config.runtime.heartbeat_interval):
            try:
                self._expire_dead_workers(ttl)
            except Exception as exc:  # the backend may be down: keep trying, never die
                log.warning("housekeeping failed: %s", exc)
                self._judge_after = time.monotonic() + ttl

    def _expire_dead_workers(self, ttl: float) -> None:
        """Jobs of workers silent for a whole ttl (three missed heartbeats) go back to
        waiting at the next reap, not when their lease would run out. Not within a ttl
        of an outage this thread saw: a stalled backend silences live workers as well,
        whose leases still hold (renewals retry), so only a lease's expiry counts then."""
        if time.monotonic() < self._judge_after:
            return
        live = [worker["id"] for worker in self.backend.workers()]
        queue = self.queue
        before = self.backend.now() - ttl  # the backend's clock, as claims' started_at
        expired = self.backend.cluster.expire_leases_of_dead_workers(queue, live, before)
        if expired:
            log.warning(
                "%d jobs of %s lost their worker (no heartbeat for %.0fs); reaping them now",
                len(expired),
                queue,
                ttl,
                extra={"queue": queue, "job_ids": expired},
            )


def build(config: Config, queue: str, plugins: Plugins) -> tuple[RuntimeHuey, QueueConsumer]:
    backend = open_backend(config.runtime.backend, config.base_dir, config.runtime.io_timeout())
    backend.ping()
    process_workers = config.queue(queue).worker_type == "process"
    huey = RuntimeHuey(
        queue,
        backend,
        list(plugins.registry),
        lease_seconds=config.runtime.lease_seconds,
        renew_interval=config.runtime.renew_interval,
        max_stalls=config.runtime.max_stalls,
        notify=plugins.notify,
        # A thread cannot be killed: only a process worker ends a job ignoring its cancel.
        cancel_grace=config.runtime.cancel_grace if process_workers else None,
    )
    return huey, QueueConsumer(huey, config)


def run_queue(config: Config, queue: str) -> int:
    plugins = load_plugins(config)
    plugins.raise_for_errors()
    huey, consumer = build(config, queue, plugins)
    plugins.notify("runtime_startup", config=config, queue=queue)
    beat = Heartbeat(
        huey,
        consumer,
        config,
        open_backend(config.runtime.backend, config.base_dir, config.runtime.io_timeout()),
    )
    keeper = Housekeeper(
        huey,
        config,
        open_backend(config.runtime.backend, config.base_dir, config.runtime.io_timeout()),
        beat.finished,
    )
    beat.start()
    keeper.start()
    log.info(
        "queue %s: %d %s workers on %s",
        queue,
        consumer.workers,
        consumer.worker_type,
        huey.backend.display_url,
        extra={"queue": queue},
    )
    consumer.run()
    beat.finished.set()
    beat.join(timeout=2)
    keeper.join(timeout=2)
    plugins.notify("runtime_shutdown", config=config, queue=queue)
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="runtime-worker")
    parser.add_argument("--queue", required=True)
    parser.add_argument("-c", "--config")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        setup_logging(config.runtime.log_format, config.runtime.log_level)
        code = run_queue(config, args.queue)
    except RuntimeJobError as exc:
        print(f"runtime worker ({args.queue}): {exc}", file=sys.stderr)
        code = exc.exit_code
    logging.shutdown()
    # Job threads still running after the drain were released above; end them with us.
    os._exit(code)


if __name__ == "__main__":
    main()
