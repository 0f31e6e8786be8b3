"""Pausing and resuming a queue (`runtime queue pause/resume`): workers stop claiming
within 1 s, running jobs are not touched, and the pause survives a daemon restart."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from runtime import control
from runtime.backends.base.storage import Backend
from runtime.config import Config, load_config
from runtime.errors import BadInput
from runtime.producer import Runtime
from tests.helpers import Daemon, run_cli, wait_for, write_config
from tests.test_backend_contract import new_job

PAUSE_TAKES_EFFECT = 1.0  # DESIGN: workers stop fetching within 1 s


def test_pause_and_resume_are_stored_and_audited(backend: Backend) -> None:
    config = Config()
    backend.push(new_job("pushed-to"))
    assert control.pause_queue(backend, config, "pushed-to") == {
        "queue": "pushed-to",
        "paused": True,
    }
    control.pause_queue(backend, config, "default")  # configured, never pushed to
    assert backend.paused_queues() == {"pushed-to", "default"}
    assert control.resume_queue(backend, config, "pushed-to")["paused"] is False
    assert backend.paused_queues() == {"default"}
    audited = [
        (event.get("action"), event.get("queue")) for event in backend.events.read(limit=100)
    ]
    assert [a for a in audited if a[0]] == [
        ("queue.pause", "pushed-to"),
        ("queue.pause", "default"),
        ("queue.resume", "pushed-to"),
    ]


def test_pausing_an_unknown_queue_is_refused(backend: Backend) -> None:
    with pytest.raises(BadInput, match="unknown queue 'nope'"):
        control.pause_queue(backend, Config(), "nope")
    assert backend.paused_queues() == set()


def test_cli_pause_unknown_queue_exits_2(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path, sqlite_url)
    done = run_cli("queue", "pause", "nope", "-c", str(config))
    assert done.returncode == 2
    assert done.stderr.strip() == "runtime: unknown queue 'nope'; known queues: default."


def state(rt: Runtime, job_id: str) -> str | None:
    return (rt.job(job_id) or {}).get("state")


def worker_pids(rt: Runtime) -> set[int]:
    return {w["pid"] for w in rt.backend.workers() if w.get("kind") == "worker"}


@pytest.mark.slow
def test_paused_queue_takes_no_job_until_resumed_even_after_restart(
    tmp_path: Path, backend_url: str
) -> None:
    config = write_config(tmp_path, backend_url)
    rt = Runtime(config=load_config(config))
    out = tmp_path / "out.txt"
    with Daemon(config) as daemon:
        wait_for(lambda: worker_pids(rt), 20, "the worker's heartbeat")
        # The idle workers are blocked in claims when the pause lands.
        paused = run_cli("queue", "pause", "default", "-c", str(config), "--json")
        assert json.loads(paused.stdout) == {"queue": "default", "paused": True}
        time.sleep(PAUSE_TAKES_EFFECT)
        job_id = rt.enqueue("testjobs.append", {"path": str(out), "text": "x"})
        time.sleep(1.5)
        assert state(rt, job_id) == "waiting"
        assert daemon.terminate() == 0
    with Daemon(config) as daemon:
        wait_for(lambda: worker_pids(rt), 20, "the new worker's heartbeat")
        time.sleep(1.5)
        assert state(rt, job_id) == "waiting"  # the pause outlived the restart
        status = json.loads(run_cli("status", "-c", str(config), "--json").stdout)
        assert status["queues"][0]["paused"] is True
        assert run_cli("queue", "resume", "default", "-c", str(config)).returncode == 0
        wait_for(lambda: state(rt, job_id) == "completed", 20, "the job to run")
        assert daemon.terminate() == 0
    assert out.read_text() == "x\n"
