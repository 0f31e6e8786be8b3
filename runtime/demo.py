"""`runtime demo`: the daemon plus a stream of diagnostics jobs, so something visibly happens.

It starts `runtime start` as a real subprocess, enqueues a mix of diagnostics jobs (echo,
progress, sleep, a flaky one that retries, a hopeless one that is dead-lettered), prints
the queue counts as they change, then drains the daemon with SIGTERM and sums up. In a
terminal it opens the dashboard on that traffic instead of printing counts; `q` quits it,
and the daemon is drained as when the traffic ends.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import click

from runtime import control
from runtime.config import Config
from runtime.errors import BadInput
from runtime.producer import Runtime

MIX: list[tuple[str, dict[str, Any], int]] = [
    ("diagnostics.echo", {"message": "hello"}, 50),
    ("diagnostics.progress", {"steps": 4, "step_seconds": 0.25}, 20),
    ("diagnostics.sleep", {"seconds": 0.5}, 20),
    ("diagnostics.fail", {"times": 1}, 8),  # fails once, then succeeds on retry
    ("diagnostics.fail", {"times": 9}, 2),  # never succeeds: ends in the dead-letter set
]
SETTLE_SECONDS = 30.0


def run_demo(config: Config, config_path: str | None, seconds: float, rate: float) -> int:
    runtime = Runtime(config=config)
    if "diagnostics.echo" not in runtime.registry:
        raise BadInput("the demo needs the diagnostics plugin: pip install -e plugins/diagnostics.")
    if sys.stdin.isatty() and sys.stdout.isatty():
        return _demo_in_dashboard(runtime, config, config_path, seconds, rate)
    daemon = _start_daemon(config_path)
    try:
        sent = _send_traffic(runtime, config, seconds, rate)
        _settle(runtime, config)
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=config.runtime.drain_timeout + 15)
    _summary(runtime, config, sent)
    return code


def _demo_in_dashboard(
    runtime: Runtime, config: Config, config_path: str | None, seconds: float, rate: float
) -> int:
    """The daemon (its log in var/demo-daemon.log: the dashboard owns the terminal) and the
    traffic in a thread, the dashboard in front until `q`."""
    from tui.app import DashboardApp
    from tui.data import DashboardData

    log_path = config.base_dir / "var" / "demo-daemon.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    sent: list[int] = []
    with log_path.open("ab") as log:
        daemon = _start_daemon(config_path, log)
        traffic = threading.Thread(
            target=lambda: sent.append(_send_traffic(runtime, config, seconds, rate, stop)),
            daemon=True,
        )
        traffic.start()
        try:
            DashboardApp(DashboardData(config)).run()
        finally:
            stop.set()
            traffic.join(timeout=5)
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=config.runtime.drain_timeout + 15)
    _summary(runtime, config, sum(sent))
    click.echo(f"the daemon's log: {log_path}")
    return code


def _start_daemon(config_path: str | None, log: Any = None) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "runtime", "start"]
    if config_path:
        cmd += ["-c", config_path]
    return subprocess.Popen(cmd, stdout=log, stderr=log)


def _send_traffic(
    runtime: Runtime,
    config: Config,
    seconds: float,
    rate: float,
    stop: threading.Event | None = None,
) -> int:
    """Enqueue the MIX at `rate` for `seconds` (or until `stop`); with no `stop` (no
    dashboard in front), print the counts every 2 s."""
    names, payloads, weights = zip(*[((n, p), p, w) for n, p, w in MIX], strict=True)
    deadline = time.monotonic() + seconds
    next_report = time.monotonic()
    sent = 0
    while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
        ((name, payload),) = random.choices(names, weights=weights)
        runtime.enqueue(name, payload)
        sent += 1
        if stop is None and time.monotonic() >= next_report:
            _report(runtime, config, sent)
            next_report += 2
        time.sleep(1 / rate)
    return sent


def _settle(runtime: Runtime, config: Config) -> None:
    """Wait for queued and retrying jobs to finish before draining."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        rows = control.status(runtime.backend, config)["queues"]
        if not any(r["waiting"] + r["delayed"] + r["active"] for r in rows):
            return
        _report(runtime, config, None)
        time.sleep(2)


def _report(runtime: Runtime, config: Config, sent: int | None) -> None:
    for row in control.status(runtime.backend, config)["queues"]:
        prefix = f"sent {sent:>4} | " if sent is not None else "settling  | "
        click.secho(
            f"{prefix}queue {row['name']}: waiting {row['waiting']}, delayed "
            f"{row['delayed']}, active {row['active']}, completed {row['completed']}, "
            f"failed {row['failed']}",
            fg="cyan",
        )


def _summary(runtime: Runtime, config: Config, sent: int) -> None:
    _report(runtime, config, sent)
    failed = control.list_jobs(runtime.backend, state="failed", limit=1)["jobs"]
    if failed:
        click.echo(f"a dead-lettered job: runtime job show {failed[0]['id']}")
    click.secho(f"demo done: {sent} jobs sent to {runtime.backend.display_url}", fg="green")
