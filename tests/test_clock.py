"""One clock: two daemons on one Redis, one of them on a clock 30 s ahead.

Every lease deadline, due time and heartbeat expiry is set and compared on the server's
clock (Redis TIME inside the scripts), so a host whose clock runs ahead neither reaps the
other host's live leases nor calls its workers dead. The skewed daemon's whole process
tree reads a shifted `time.time` through a `sitecustomize` module on its PYTHONPATH
(libfaketime makes Python's timed waits hang here).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.config import load_config
from runtime.producer import Runtime
from tests.helpers import clean_env, wait_for, write_config

pytestmark = [pytest.mark.slow]

SKEW = 30.0  # seconds the second daemon's clock runs ahead
LEASE = 3.0
RENEW = 1.0
JOB_SECONDS = 3.5  # longer than the lease: only renewals keep each job its own
JOBS = 8

SITECUSTOMIZE = """\
import os
import time

_real_time = time.time
_shift = float(os.environ["RUNTIME_TEST_CLOCK_SHIFT"])


def _shifted_time():
    return _real_time() + _shift


time.time = _shifted_time
"""


def skewed_env(folder: Path, shift: float) -> dict[str, str]:
    """The environment of a process tree whose `time.time` runs `shift` seconds ahead."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = clean_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), env.get("PYTHONPATH")]))
    env["RUNTIME_TEST_CLOCK_SHIFT"] = str(shift)
    return env


def start_daemon(config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with (config.parent / "daemon.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "runtime", "start", "-c", str(config)],
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
        )


def runs(out: Path) -> list[tuple[int, int]]:
    if not out.exists():
        return []
    return [(int(n), int(attempt)) for n, attempt in (line.split() for line in out.open())]


def test_a_daemon_on_a_clock_30s_ahead_takes_no_live_lease(tmp_path: Path, redis_url: str) -> None:
    configs = []
    for name in ("right", "ahead"):
        folder = tmp_path / name
        folder.mkdir()
        config = write_config(folder, redis_url, workers=2, lease=LEASE)
        text = config.read_text().replace(
            f"renew_interval = {LEASE / 3}", f"renew_interval = {RENEW}"
        )
        config.write_text(text)
        configs.append(config)
    rt = Runtime(config=load_config(configs[0]))
    out = tmp_path / "runs.txt"
    payloads = [{"path": str(out), "n": n, "sleep": JOB_SECONDS} for n in range(JOBS)]
    ids = rt.enqueue_many("testjobs.mark", payloads)
    envs = [clean_env(), skewed_env(tmp_path / "shift", SKEW)]
    with contextlib.ExitStack() as stack:
        daemons = [start_daemon(config, env) for config, env in zip(configs, envs, strict=True)]
        for daemon in daemons:
            stack.callback(_kill, daemon)
        workers = wait_for(lambda: _worker_starts(rt, 2), timeout=30, what="both daemons' workers")
        # The shift is real: the second daemon's workers stamp their start 30 s ahead.
        assert max(workers) - min(workers) > SKEW - 5, workers
        wait_for(lambda: len(runs(out)) >= JOBS, timeout=60, what="every job to run")
        time.sleep(LEASE + 2 * RENEW)  # room for any wrongly reaped job to run again
        assert [daemon.poll() for daemon in daemons] == [None, None]
    assert sorted(runs(out)) == [(n, 1) for n in range(JOBS)]  # each ran once, first attempt
    records = [rt.job(job_id) or {} for job_id in ids]
    assert [(r["state"], r["stalls"], r["attempts"]) for r in records] == [
        ("completed", 0, 1)
    ] * JOBS
    events = rt.backend.events.read(limit=1000)
    assert [e for e in events if e["type"] in ("recovered", "stalled")] == []


def _worker_starts(rt: Runtime, count: int) -> list[float] | None:
    """The `started` stamps (each process's own clock) of the live worker processes."""
    starts = [w["started"] for w in rt.backend.workers() if w.get("kind") == "worker"]
    return starts if len(starts) >= count else None


def _kill(daemon: subprocess.Popen[bytes]) -> None:
    if daemon.poll() is None:
        os.killpg(daemon.pid, 15)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, 9)
            daemon.wait()
