"""Helpers for tests that drive the real CLI and daemon in subprocesses."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

TEST_PLUGIN = Path(__file__).parent / "plugins" / "testjobs.py"


def write_config(
    tmp_path: Path,
    backend_url: str,
    extra: str = "",
    workers: int = 4,
    lease: float = 15.0,
    drain: float = 30.0,
    modules: Sequence[Path] = (TEST_PLUGIN,),
) -> Path:
    path = tmp_path / "config.toml"
    listed = ", ".join(f'"{module}"' for module in modules)
    path.write_text(
        f'[runtime]\nbackend = "{backend_url}"\nlease_seconds = {lease}\n'
        f"renew_interval = {min(5.0, lease / 3)}\ndrain_timeout = {drain}\n"
        f'heartbeat_interval = 1.0\nlog_format = "json"\n{extra}\n'
        f"[queues.default]\nworkers = {workers}\n\n"
        f"[plugins]\nmodules = [{listed}]\n"
    )
    return path


def clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("RUNTIME_CONFIG", "RUNTIME_BACKEND", "REDIS_URL"):
        env.pop(name, None)
    return env


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runtime", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(),
    )


def cli_json(*args: str) -> Any:
    done = run_cli(*args, "--json")
    assert done.returncode in (0, 1, 2), done.stderr
    return json.loads(done.stdout)


def wait_for(predicate: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Daemon:
    """`runtime start` in a real subprocess (its own process group, for kill -9 tests)."""

    def __init__(self, config: Path, *args: str) -> None:
        self.config = config
        self.args = args
        self.log = config.parent / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Daemon:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "runtime", "start", "-c", str(self.config), *self.args],
                stdout=log,
                stderr=log,
                env=clean_env(),
                start_new_session=True,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        # Whatever its group still holds (a worker's child left behind by a failed test)
        # must not live on into the next test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def group_alive(self) -> bool:
        """Whether any process of the daemon's group (workers, their children) is left."""
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


# Metrics at known ages for the span tests (test_stats.py, test_dashboard_metrics.py):
# per span, queue and job the totals SPAN_TOTALS says. a.job's attempts this minute go
# through the real Recorder (run 0.2 s, wait 10 ms); the older minutes are written as the
# recorder would have flushed them then.
RUN, WAIT = 0.2, 0.01
SPAN_TOTALS = {  # span -> (queue or None, job or None) -> (completed, failed, retried)
    "1h": {(None, None): (8, 1, 2), ("default", None): (3, 1, 2), ("reports", None): (5, 0, 0)},
    "24h": {(None, None): (12, 1, 2), (None, "a.job"): (7, 0, 0), (None, "b.job"): (0, 1, 2)},
    "30d": {
        (None, None): (19, 1, 2),
        (None, "a.job"): (14, 0, 0),
        ("default", None): (14, 1, 2),
        ("reports", None): (5, 0, 0),
    },
}


def record_metric_spans(backend: Any) -> None:
    """The metrics SPAN_TOTALS describes, on queues `default` and `reports` (both known)."""
    from runtime import stats
    from runtime.backends.base.metrics import MetricBucket
    from runtime.backends.base.storage import NewJob
    from runtime.messages import compose

    for queue in ("default", "reports"):  # a queue is known once it had a job
        data = compose(f"known-{queue}", "a.job", "{}", {"priority": 0})
        backend.push(NewJob(id=f"known-{queue}", job="a.job", queue=queue, data=data))
    recorder = stats.Recorder(backend, "default")
    for _ in range(3):
        recorder.record("a.job", "completed", RUN, WAIT)
    recorder.flush()
    now = stats.minute_now(backend.now())
    backend.metrics.add("default", {("b.job", now - 10): MetricBucket([0, 1, 2, 0, 0])})
    backend.metrics.add("reports", {("c.job", now - 5): MetricBucket([5, 0, 0, 0, 0])})
    backend.metrics.add("default", {("a.job", now - 180): MetricBucket([4, 0, 0, 0, 0])})
    backend.metrics.add("default", {("a.job", now - 3 * 1440): MetricBucket([7, 0, 0, 0, 0])})
