"""`runtime start`: the supervisor. One worker process per queue, restarted with backoff.

The supervisor checks plugins and the backend before it starts anything, so a broken
plugin or an unreachable backend is one sentence and a non-zero exit, not a crash loop.
On SIGTERM or SIGINT it relays SIGTERM to every worker process (each drains, see
runtime/worker.py) and exits 0 once they are done; a second signal forces them.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from runtime import alerts, control, heartbeat, prometheus
from runtime.backends import open_backend
from runtime.config import Config
from runtime.plugins import Plugins, load_plugins

log = logging.getLogger("runtime.daemon")

RESTART_BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 60.0)
STABLE_AFTER = 60.0  # a child up this long has recovered: its backoff starts over
CRASH_LOOP = 5  # this many crashes in a row are reported as a crash loop
POLL_SECONDS = 0.2
RETENTION_INTERVAL = 60.0  # seconds between trims of the finished job records


@dataclass
class Child:
    queue: str
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    crashes: int = 0
    restart_at: float = 0.0


class Steward(threading.Thread):
    """The daemon's own heartbeat, and its bid for the lead of the cluster: exactly one
    live daemon leads (a lease renewed every beat), and the leader evaluates the alert
    rules every `[alerts] interval` seconds. A leader that dies hands over within three
    missed beats; one that stops resigns at once."""

    def __init__(self, daemon_id: str, config: Config, plugins: Plugins, queues: list[str]):
        super().__init__(name="Steward", daemon=True)
        self.daemon_id = daemon_id
        self.config = config
        self.plugins = plugins
        self.queues = queues
        self.backend = open_backend(
            config.runtime.backend, config.base_dir, config.runtime.io_timeout()
        )
        self.stopped = threading.Event()
        self.started = time.time()
        self.leading = False
        self.next_alerts = 0.0

    def run(self) -> None:
        beat = min(self.config.runtime.heartbeat_interval, self.config.alerts.interval)
        self._tick()
        while not self.stopped.wait(beat):
            self._tick()
        try:
            self.backend.cluster.resign(self.daemon_id)
            self.backend.remove_worker(self.daemon_id)
        except Exception as exc:  # the others take over when the lease runs out
            log.warning("could not resign the lead: %s", exc)
        self.backend.close()

    def _tick(self) -> None:
        ttl = self.config.runtime.heartbeat_ttl()
        mine: list[dict[str, Any]] = []
        try:
            leading = self.backend.cluster.lead(self.daemon_id, ttl)
            mine = [w for w in self.backend.workers() if w.get("daemon") == self.daemon_id]
            self.backend.put_worker(self.daemon_id, self.info(leading, mine), ttl)
        except Exception as exc:  # the backend may be down: keep trying, never die
            log.warning("daemon heartbeat failed: %s", exc)
            leading = False
        if leading != self.leading:
            log.info("daemon %s %s the lead", self.daemon_id, "took" if leading else "lost")
            self.leading = leading
        if leading and time.monotonic() >= self.next_alerts:
            self.next_alerts = time.monotonic() + self.config.alerts.interval
            settled = self._workers_settled(mine)
            try:
                alerts.evaluate_and_store(
                    self.backend, self.config, self.plugins, workers_settled=settled
                )
            except Exception:  # a broken rule must not stop the heartbeat or the lead
                log.exception("alert evaluation failed")

    def _workers_settled(self, mine: list[dict[str, Any]]) -> bool:
        """Whether this daemon's worker processes have all sent a heartbeat since it
        started; after a heartbeat ttl (three intervals) it is settled regardless, so a
        worker that keeps crashing at start shows as no worker."""
        serving = {worker.get("queue") for worker in mine}
        waited = time.time() - self.started
        return set(self.queues) <= serving or waited >= self.config.runtime.heartbeat_ttl()

    def info(self, leading: bool, mine: list[dict[str, Any]]) -> dict[str, Any]:
        """This daemon's heartbeat: its worker processes' running jobs and counts summed
        from their own last heartbeats (`mine`)."""
        current = sorted(job for w in mine for job in w.get("current_jobs", []))
        processed = sum(int(w.get("processed", 0)) for w in mine)
        return heartbeat.beat(
            "daemon", self.queues, self.started, processed, current, leader=leading
        )


class Retention(threading.Thread):
    """Trims every known queue's finished job records to `[retention]` (and its metrics
    past theirs) every RETENTION_INTERVAL, while this daemon leads: one daemon per
    backend does it, on a thread of its own, so a long purge delays no heartbeat. Then
    forgets the known queues left empty that nobody names (control.forget_idle_queues)."""

    def __init__(self, steward: Steward, config: Config) -> None:
        super().__init__(name="Retention", daemon=True)
        self.steward = steward
        self.config = config
        self.backend = open_backend(
            config.runtime.backend, config.base_dir, config.runtime.io_timeout()
        )

    def run(self) -> None:
        wait = self.config.runtime.heartbeat_interval  # by then the lead has been decided
        while not self.steward.stopped.wait(wait):
            wait = RETENTION_INTERVAL
            if not self.steward.leading:
                continue
            try:
                self.trim()
            except Exception as exc:  # the backend may be down: keep trying, never die
                log.warning("retention failed: %s", exc)
        self.backend.close()

    def trim(self) -> None:
        for queue in self.backend.known_queues():
            removed = control.apply_retention(self.backend, self.config, queue)
            if removed:
                log.info("retention removed %d finished jobs from %s", removed, queue)
        # Then the queues left empty that nothing names here (config, this daemon's jobs
        # and queues) nor elsewhere (live workers): the known set shrinks to those in use.
        named = set(self.steward.queues) | self.steward.plugins.registry.queues()
        forgotten = control.forget_idle_queues(self.backend, self.config, named)
        if forgotten:
            log.info("forgot %d empty queues nobody configures: %s", len(forgotten), forgotten)


class Supervisor:
    def __init__(self, config: Config, queues: list[str], plugins: Plugins) -> None:
        self.config = config
        self.children = [Child(queue) for queue in queues]
        self.stopping = False
        self.forced = False
        self.daemon_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.steward = Steward(self.daemon_id, config, plugins, queues)
        self.retention = Retention(self.steward, config)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        log.info(
            "daemon %s starting queues %s",
            self.daemon_id,
            ", ".join(c.queue for c in self.children),
        )
        self.steward.start()
        self.retention.start()
        for child in self.children:
            self._spawn(child)
        while not self.stopping:
            self._watch()
            time.sleep(POLL_SECONDS)
        return self._drain()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            self.forced = True
            log.warning("second signal: forcing worker processes to stop")
        else:
            log.info("received %s: draining", signal.Signals(signum).name)
        self.stopping = True
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)

    def _spawn(self, child: Child) -> None:
        cmd = [sys.executable, "-m", "runtime.worker", "--queue", child.queue]
        if self.config.source is not None:
            cmd += ["-c", str(self.config.source)]
        env = dict(os.environ, RUNTIME_BACKEND=self.config.runtime.backend)
        env[heartbeat.DAEMON_ENV] = self.daemon_id
        child.proc = subprocess.Popen(cmd, env=env, cwd=Path.cwd())
        child.started = time.monotonic()
        log.info(
            "started worker process %d for queue %s",
            child.proc.pid,
            child.queue,
            extra={"queue": child.queue, "pid": child.proc.pid},
        )

    def _watch(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.proc is None:
                if now >= child.restart_at:
                    self._spawn(child)
                continue
            code = child.proc.poll()
            if code is not None:
                self._crashed(child, code, now)

    def _crashed(self, child: Child, code: int, now: float) -> None:
        child.crashes = 0 if now - child.started > STABLE_AFTER else child.crashes + 1
        delay = RESTART_BACKOFF[min(child.crashes, len(RESTART_BACKOFF) - 1)]
        child.proc = None
        child.restart_at = now + delay
        extra = {"queue": child.queue, "exit_code": code, "crashes": child.crashes}
        if child.crashes >= CRASH_LOOP:
            log.error(
                "worker for queue %s keeps crashing (exit %d, %d times in a row); "
                "next restart in %.0fs",
                child.queue,
                code,
                child.crashes,
                delay,
                extra=extra,
            )
        else:
            log.warning(
                "worker for queue %s exited with %d; restarting in %.0fs",
                child.queue,
                code,
                delay,
                extra=extra,
            )

    def _drain(self) -> int:
        deadline = time.monotonic() + self.config.runtime.drain_timeout + 10
        for child in self.children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker for queue %s did not stop; killing it", child.queue)
                child.proc.kill()
                child.proc.wait()
        self.steward.stopped.set()
        self.steward.join(timeout=5)
        log.info("daemon %s stopped", self.daemon_id)
        return 0


def daemon_queues(config: Config, registry_queues: set[str], only: list[str] | None) -> list[str]:
    """Configured queues plus queues named by registered jobs, or exactly `only`."""
    if only:
        return only
    return sorted(set(config.queues) | registry_queues)


def start(
    config: Config,
    only_queues: list[str] | None = None,
    metrics_address: tuple[str, int] | None = None,
) -> int:
    """Check plugins and backend, then supervise, serving /metrics and /healthz on
    `metrics_address` (host, port) if given. Raises RuntimeJobError on bad setup."""
    plugins = load_plugins(config)
    plugins.raise_for_errors()
    backend = open_backend(config.runtime.backend, config.base_dir, config.runtime.io_timeout())
    try:
        backend.ping()
    finally:
        backend.close()
    queues = daemon_queues(config, plugins.registry.queues(), only_queues)
    with prometheus.serving(config, metrics_address):
        return Supervisor(config, queues, plugins).run()
