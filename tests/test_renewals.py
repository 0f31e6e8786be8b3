"""Renewals that cannot lose: a claim stays its worker's while the backend or a hook is slow.

Real daemons; each job appends "<n> <attempt>" once it ran (testjobs.mark), so a job that
lost its lease and ran again shows as a second line.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.config import load_config
from runtime.producer import Runtime
from tests.helpers import TEST_PLUGIN, Daemon, wait_for, write_config
from tests.redis_server import RedisServer

pytestmark = [pytest.mark.slow]

SLOW_HOOK = """\
from pathlib import Path

import runtime

MARKER = Path(__MARKER__)


@runtime.hookimpl
def job_finished(job, state):
    # The first job's hook outlasts the lease of the claim its ack prefetched.
    if not MARKER.exists():
        MARKER.write_text(state)
        import time

        time.sleep(__SECONDS__)
"""


def configured(folder: Path, url: str, *, lease: float, renew: float, workers: int) -> Path:
    config = write_config(folder, url, workers=workers, lease=lease)
    text = config.read_text().replace(
        f"renew_interval = {min(5.0, lease / 3)}", f"renew_interval = {renew}"
    )
    config.write_text(text + "\n[retention]\ncompleted_max = 100000\n")
    return config


def runs(out: Path) -> list[tuple[int, int]]:
    if not out.exists():
        return []
    return [(int(n), int(attempt)) for n, attempt in (line.split() for line in out.open())]


def no_job_ran_twice(rt: Runtime, ids: list[str], out: Path) -> None:
    assert sorted(runs(out)) == [(n, 1) for n in range(len(ids))]
    records = [rt.job(job_id) or {} for job_id in ids]
    assert [(r["state"], r["stalls"]) for r in records] == [("completed", 0)] * len(ids)
    events = rt.backend.events.read(limit=10_000)
    assert [e for e in events if e["type"] in ("recovered", "stalled")] == []


def test_a_slow_job_finished_hook_keeps_the_prefetched_claim(
    tmp_path: Path, backend_url: str
) -> None:
    """The ack of job 0 claims this thread's next job; job 0's hook then sleeps three leases.
    The prefetched claim is renewed meanwhile, so nobody reaps it and it runs once."""
    lease = 2.0
    hook = tmp_path / "slowhook.py"
    hook.write_text(
        SLOW_HOOK.replace("__MARKER__", repr(str(tmp_path / "hooked"))).replace(
            "__SECONDS__", str(3 * lease)
        )
    )
    config = configured(tmp_path, backend_url, lease=lease, renew=0.5, workers=1)
    config.write_text(
        config.read_text().replace(f'"{TEST_PLUGIN}"]', f'"{TEST_PLUGIN}", "{hook}"]')
    )
    rt = Runtime(config=load_config(config))
    out = tmp_path / "runs.txt"
    ids = rt.enqueue_many("testjobs.mark", [{"path": str(out), "n": n} for n in range(4)])
    with Daemon(config) as daemon:
        wait_for(lambda: len(runs(out)) >= 4, timeout=60, what="every job to run")
        time.sleep(lease + 1)  # room for a wrongly reaped claim to run again
        assert daemon.terminate() == 0
    assert (tmp_path / "hooked").read_text() == "completed"
    no_job_ran_twice(rt, ids, out)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        if server.proc is not None:
            server.proc.send_signal(signal.SIGCONT)  # a failed test must not leave it stopped
        server.stop()


@pytest.mark.redis
def test_redis_stopped_for_longer_than_a_renewal_loses_no_lease(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    """SIGSTOP on redis-server for 4.5 s while 4 jobs of 6 s run: longer than the renew
    interval (2 s) and than the heartbeat ttl (3 s), shorter than the lease (8 s).
    Renewals time out (io_timeout: 2 s) and are retried; the housekeepers, having seen the
    outage, do not take the silent workers for dead; nothing runs twice."""
    lease, stop_seconds = 8.0, 4.5
    config = configured(tmp_path, own_redis.url, lease=lease, renew=2.0, workers=4)
    rt = Runtime(config=load_config(config))
    out = tmp_path / "runs.txt"
    payloads = [{"path": str(out), "n": n, "sleep": 6.0} for n in range(4)]
    ids = rt.enqueue_many("testjobs.mark", payloads)
    assert own_redis.proc is not None
    with Daemon(config) as daemon:
        wait_for(
            lambda: rt.backend.queue_counts(["default"])["default"]["active"] == 4,
            timeout=30,
            what="all four jobs to start",
        )
        time.sleep(2.5)  # a renewal or two done: the stop lands between them
        own_redis.proc.send_signal(signal.SIGSTOP)
        time.sleep(stop_seconds)
        own_redis.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: len(runs(out)) >= 4, timeout=60, what="every job to run")
        time.sleep(lease + 2)  # room for a wrongly reaped job to run again
        assert daemon.terminate() == 0
    # The stop was felt (redis-py 8 says "Timeout reading from HOST:PORT").
    assert "Timeout reading from" in daemon.output()
    assert "Traceback" not in daemon.output()  # an outage is one line per failed call
    no_job_ran_twice(rt, ids, out)
