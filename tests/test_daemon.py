"""`runtime start` as a real process tree: work, drain on SIGTERM, restart after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from runtime.config import load_config
from runtime.producer import Runtime
from tests.helpers import Daemon, wait_for, write_config

pytestmark = pytest.mark.slow


def producer(config: Path) -> Runtime:
    return Runtime(config=load_config(config))


def state(rt: Runtime, job_id: str) -> Any:
    return (rt.job(job_id) or {}).get("state")


def all_completed(rt: Runtime, ids: list[str]) -> bool:
    return all(state(rt, i) == "completed" for i in ids)


def test_daemon_runs_jobs_and_drains_on_sigterm(tmp_path: Path, backend_url: str) -> None:
    config = write_config(tmp_path, backend_url)
    rt = producer(config)
    out = tmp_path / "out.txt"
    ids = rt.enqueue_many(
        "testjobs.append", [{"path": str(out), "text": str(i)} for i in range(100)]
    )
    with Daemon(config) as daemon:
        wait_for(lambda: all(state(rt, i) == "completed" for i in ids), 60, "100 jobs")
        slow = rt.enqueue("diagnostics.sleep", {"seconds": 1.5})
        wait_for(lambda: state(rt, slow) == "active", 20, "the slow job to start")
        started = time.monotonic()
        assert daemon.terminate() == 0
        assert state(rt, slow) == "completed"  # drained: it finished before exit
        assert time.monotonic() - started < 20
    assert sorted(out.read_text().split(), key=int) == [str(i) for i in range(100)]
    assert '"msg": "received SIGTERM: draining"' in daemon.output()


def test_drain_timeout_releases_running_jobs(tmp_path: Path, backend_url: str) -> None:
    config = write_config(tmp_path, backend_url, drain=1.0)
    rt = producer(config)
    job_id = rt.enqueue("diagnostics.sleep", {"seconds": 60})
    with Daemon(config) as daemon:
        wait_for(lambda: state(rt, job_id) == "active", 20, "the job to start")
        started = time.monotonic()
        assert daemon.terminate() == 0
        assert time.monotonic() - started < 15
    record = rt.job(job_id)
    assert record is not None
    assert (record["state"], record["attempts"]) == ("waiting", 1)  # handed back at once


def test_second_signal_forces_the_stop(tmp_path: Path, backend_url: str) -> None:
    config = write_config(tmp_path, backend_url, drain=60.0)
    rt = producer(config)
    job_id = rt.enqueue("diagnostics.sleep", {"seconds": 120})
    with Daemon(config) as daemon:
        wait_for(lambda: state(rt, job_id) == "active", 20, "the job to start")
        assert daemon.proc is not None
        started = time.monotonic()
        daemon.proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(30) == 0
        assert time.monotonic() - started < 20  # not the 60 s drain
    assert "second signal: forcing worker processes to stop" in daemon.output()
    record = rt.job(job_id) or {}
    assert (record["state"], record["attempts"]) == ("waiting", 1)  # handed back, not lost


def test_a_draining_worker_keeps_publishing_its_heartbeat(tmp_path: Path, backend_url: str) -> None:
    # A silent worker's jobs are handed to others at once: a drain must not go silent.
    config = write_config(tmp_path, backend_url, drain=60.0)
    rt = producer(config)
    job_id = rt.enqueue("diagnostics.sleep", {"seconds": 4})
    with Daemon(config) as daemon:
        wait_for(lambda: state(rt, job_id) == "active", 20, "the job to start")
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGTERM)
        time.sleep(2.5)  # over two heartbeat intervals into the drain, the job still runs
        workers = [w for w in rt.backend.workers() if w["kind"] == "worker"]
        assert [w["current_jobs"] for w in workers] == [[job_id]]
        assert daemon.proc.wait(30) == 0
    assert state(rt, job_id) == "completed"


def test_sigint_drains_like_sigterm(tmp_path: Path, backend_url: str) -> None:
    config = write_config(tmp_path, backend_url)
    rt = producer(config)
    job_id = rt.enqueue("diagnostics.sleep", {"seconds": 1.0})
    with Daemon(config) as daemon:
        wait_for(lambda: state(rt, job_id) == "active", 20, "the job to start")
        assert daemon.proc is not None
        os.killpg(daemon.proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole group
        assert daemon.proc.wait(30) == 0
    assert state(rt, job_id) == "completed"


def test_crashed_worker_is_restarted_and_its_job_recovered(
    tmp_path: Path, backend_url: str
) -> None:
    config = write_config(tmp_path, backend_url, lease=2.0)
    rt = producer(config)
    marker = tmp_path / "crashed"
    job_id = rt.enqueue("testjobs.crash_once", {"marker": str(marker)})
    with Daemon(config) as daemon:
        record = wait_for(
            lambda: (rt.job(job_id) or {}).get("state") == "completed" and rt.job(job_id),
            60,
            "the job to recover",
        )
        assert daemon.terminate() == 0
    assert (record["attempts"], record["result"]) == (2, 2)
    assert "exited with 17; restarting" in daemon.output()


def test_retries_and_dead_letter_through_the_daemon(tmp_path: Path, backend_url: str) -> None:
    config = write_config(tmp_path, backend_url)
    rt = producer(config)
    flaky = rt.enqueue("diagnostics.fail", {"times": 1})
    hopeless = rt.enqueue("diagnostics.fail", {"times": 9})
    progress = rt.enqueue("diagnostics.progress", {"steps": 3, "step_seconds": 0.05})
    with Daemon(config) as daemon:
        wait_for(
            lambda: (
                state(rt, flaky) == "completed"
                and state(rt, hopeless) == "failed"
                and state(rt, progress) == "completed"
            ),
            60,
            "outcomes",
        )
        assert daemon.terminate() == 0
    assert (rt.job(flaky) or {})["attempts"] == 2
    dead = rt.job(hopeless) or {}
    assert (dead["attempts"], dead["error"]["type"]) == (4, "DiagnosticFailure")
    assert (rt.job(progress) or {})["progress"] == {"percent": 100.0, "stage": "step 3/3"}


def test_workers_publish_heartbeats(tmp_path: Path, backend_url: str) -> None:
    config = write_config(tmp_path, backend_url, workers=3)
    rt = producer(config)
    with Daemon(config) as daemon:
        workers = wait_for(
            lambda: [w for w in rt.backend.workers() if w["kind"] == "worker"], 20, "a heartbeat"
        )
        assert daemon.terminate() == 0
    (worker,) = workers
    assert (worker["queue"], worker["workers"], worker["worker_type"]) == ("default", 3, "thread")
    assert worker["pid"] != os.getpid()


@pytest.mark.parametrize("worker_type", ["thread", "process"])
def test_running_jobs_keep_their_lease(tmp_path: Path, backend_url: str, worker_type: str) -> None:
    """A job running longer than the lease is renewed, not reaped and run twice."""
    config = write_config(tmp_path, backend_url, lease=1.5)
    text = config.read_text().replace("workers = 4", f'workers = 2\nworker_type = "{worker_type}"')
    config.write_text(text)
    rt = producer(config)
    job_id = rt.enqueue("diagnostics.sleep", {"seconds": 4})
    with Daemon(config) as daemon:
        wait_for(lambda: state(rt, job_id) == "completed", 30, "the long job")
        assert daemon.terminate() == 0
    assert (rt.job(job_id) or {})["attempts"] == 1


def process_workers(config: Path, workers: int) -> None:
    text = config.read_text()
    config.write_text(
        text.replace(f"workers = {workers}", f'workers = {workers}\nworker_type = "process"')
    )


def test_process_workers(tmp_path: Path, backend_url: str) -> None:
    config = write_config(tmp_path, backend_url, workers=2)
    process_workers(config, 2)
    rt = producer(config)
    ids = rt.enqueue_many("diagnostics.echo", [{"message": i} for i in range(20)])
    with Daemon(config) as daemon:
        wait_for(lambda: all(state(rt, i) == "completed" for i in ids), 60, "20 jobs")
        assert daemon.terminate() == 0


DAEMON_RUNS = 10  # before the fix one such start in two or three left a child hung
RUN_SECONDS = 20.0  # a run takes 2-3 s; its drain 1 s (a hung child: the whole drain_timeout)


def test_process_workers_on_sqlite_start_and_drain_every_time(
    tmp_path: Path, sqlite_url: str
) -> None:
    """Huey forks the scheduler and the process workers while the worker process's
    heartbeat and housekeeping threads use SQLite; a child forked inside one of their
    transactions used to wait for ever on SQLite's state frozen at the fork (see
    runtime/backends/sqlite/connection.py). Eight workers and fast heartbeats put many
    forks inside that window; a hung worker or scheduler cannot drain (the drain then
    sits out drain_timeout, 60 s here) and a hung scheduler never promotes the delayed
    job."""
    config = write_config(tmp_path, sqlite_url, workers=8, drain=60.0)
    process_workers(config, 8)
    fast = config.read_text().replace("heartbeat_interval = 1.0", "heartbeat_interval = 0.1")
    config.write_text(fast)
    rt = producer(config)
    for run in range(1, DAEMON_RUNS + 1):
        ids = rt.enqueue_many("diagnostics.echo", [{"message": [run, i]} for i in range(20)])
        ids.append(rt.enqueue("diagnostics.echo", {"message": [run, "delayed"]}, delay=0.5))
        with Daemon(config) as daemon:
            wait_for(partial(all_completed, rt, ids), RUN_SECONDS, f"run {run}'s jobs")
            try:
                code = daemon.terminate(timeout=RUN_SECONDS)
            except subprocess.TimeoutExpired:
                pytest.fail(f"run {run} of {DAEMON_RUNS}: the daemon did not drain")
            assert code == 0, f"run {run}"
            # No forked child outlives it (one would run the next run's jobs).
            wait_for(lambda: not daemon.group_alive(), 5, f"run {run}'s processes to end")


def test_a_sigterm_while_the_worker_forks_leaves_no_process(
    tmp_path: Path, backend_url: str
) -> None:
    """Huey set its signal handlers only once every process worker was forked: a SIGTERM
    before that killed the worker process and its children went on running without it."""
    for run in range(1, 4):
        folder = tmp_path / f"run{run}"  # a log of its own
        folder.mkdir()
        config = write_config(folder, backend_url, workers=8)
        process_workers(config, 8)
        with Daemon(config) as daemon:
            # Logged just before the consumer starts forking.
            wait_for(lambda: "8 process workers on" in daemon.output(), 30, f"run {run}'s worker")
            assert daemon.terminate(timeout=RUN_SECONDS) == 0
            wait_for(lambda: not daemon.group_alive(), 5, f"run {run}'s processes to end")
