"""Canceling jobs (`runtime job cancel`), on both backends: waiting, delayed and retrying
jobs at once; running jobs cooperatively (`ctx.cancelled`), and process workers whose job
ignores the flag ended after `[runtime] cancel_grace`."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from runtime import control
from runtime.backends.base.storage import Backend
from runtime.config import Config, PluginsSection, load_config
from runtime.engine import RuntimeHuey
from runtime.errors import BadInput
from runtime.producer import Runtime
from tests.helpers import TEST_PLUGIN, Daemon, run_cli, wait_for, write_config
from tests.test_backend_contract import ERROR, new_job

LEASE = 60.0


def actions(backend: Backend) -> list[Any]:
    return [event.get("action") for event in backend.events.read(limit=1000)]


# -- the backend operations ----------------------------------------------------------------
def test_cancel_waiting_job_is_final_at_once(backend: Backend) -> None:
    job, other = new_job(key="k"), new_job()
    backend.push_many([job, other])
    assert backend.cancels.cancel(job.id) == "waiting"
    record = backend.get_job(job.id) or {}
    assert record["state"] == "canceled" and record["finished_at"] is not None
    assert backend.queue_counts(["q"])["q"]["waiting"] == 1
    claim = backend.claim("q", LEASE, timeout=0)
    assert claim is not None and claim.job_id == other.id
    assert backend.claim("q", LEASE, timeout=0) is None
    # A final job frees its idempotency key (window 0), as completed and failed ones do.
    assert backend.push(new_job(key="k")).deduplicated is False
    assert backend.purge("q", "canceled", finished_before=time.time() + 1) == 1


def test_cancel_delayed_and_retrying_jobs(backend: Backend) -> None:
    delayed, retried = new_job(eta=time.time() + 3600), new_job()
    backend.push_many([delayed, retried])
    claim = backend.claim("q", LEASE, timeout=0)
    assert claim is not None
    assert backend.retry(claim.job_id, claim.token, retried.data, time.time() + 3600, ERROR)
    assert backend.cancels.cancel(delayed.id) == "delayed"
    assert backend.cancels.cancel(retried.id) == "retrying"
    assert backend.promote_due("q", time.time() + 7200) == 0
    assert {(backend.get_job(j.id) or {})["state"] for j in (delayed, retried)} == {"canceled"}
    assert backend.queue_counts(["q"])["q"]["delayed"] == 0


def test_cancel_active_job_is_a_request_for_its_claim(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    claim = backend.claim("q", LEASE, timeout=0)
    assert claim is not None
    assert backend.cancels.requested({job.id: claim.token}) == set()
    assert backend.cancels.cancel(job.id) == "active"
    assert (backend.get_job(job.id) or {})["state"] == "active"  # until the worker stops it
    assert backend.cancels.requested({job.id: claim.token, "other": "t"}) == {job.id}
    assert backend.cancels.requested({job.id: "an-older-claim"}) == set()
    assert backend.cancels.finish(job.id, "stale") is False
    assert backend.cancels.finish(job.id, claim.token) is True
    record = backend.get_job(job.id) or {}
    assert (record["state"], record["finished_at"] is not None) == ("canceled", True)
    assert backend.complete(job.id, claim.token, None) is False  # the lease is gone
    assert backend.queue_counts(["q"])["q"]["active"] == 0


def test_a_request_never_matches_a_later_claim(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    first = backend.claim("q", LEASE, timeout=0)
    assert first is not None
    backend.cancels.cancel(job.id)
    assert backend.cancels.finish(job.id, first.token)
    assert backend.requeue(job.id)  # `runtime job retry` of the canceled job
    second = backend.claim("q", LEASE, timeout=0)
    assert second is not None
    assert backend.cancels.requested({job.id: second.token}) == set()


def test_final_and_unknown_jobs_are_left_alone(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    claim = backend.claim("q", LEASE, timeout=0)
    assert claim is not None and backend.complete(job.id, claim.token, None)
    assert backend.cancels.cancel(job.id) == "completed"
    assert (backend.get_job(job.id) or {})["state"] == "completed"
    assert backend.cancels.cancel("no-such-job") is None
    assert backend.cancels.requested({}) == set()


# -- control and CLI -----------------------------------------------------------------------
def test_control_cancel_audits_and_refuses_final_jobs(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    result = control.cancel_job(backend, job.id)
    assert result == {
        "id": job.id,
        "job": job.job,
        "queue": "q",
        "state": "canceled",
        "cancel_requested": False,
    }
    assert "job.cancel" in actions(backend)
    with pytest.raises(BadInput, match="already canceled; only unfinished jobs"):
        control.cancel_job(backend, job.id)
    with pytest.raises(BadInput, match="no job with id 'nope'"):
        control.cancel_job(backend, "nope")


def test_cli_cancel(tmp_path: Path, backend_url: str) -> None:
    config = write_config(tmp_path, backend_url)
    rt = Runtime(config=load_config(config))
    job_id = rt.enqueue("testjobs.append", {"path": "x", "text": "y"}, delay=3600)
    done = run_cli("job", "cancel", job_id, "-c", str(config), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "canceled"
    again = run_cli("job", "cancel", job_id, "-c", str(config))
    assert again.returncode == 2
    assert again.stderr.strip() == (
        f"runtime: job {job_id} is already canceled; only unfinished jobs can be canceled."
    )


# -- running jobs --------------------------------------------------------------------------
@pytest.mark.parametrize("fail", [False, True])
def test_running_thread_job_stops_and_is_canceled(
    backend: Backend, tmp_path: Path, fail: bool
) -> None:
    """Whether the job returns or raises after the cancel, it is canceled: not completed,
    not retried (it has retries left)."""
    rt = Runtime(backend, config=Config(plugins=PluginsSection(modules=[str(TEST_PLUGIN)])))
    marker = tmp_path / "started"
    job_id = rt.enqueue("testjobs.until_canceled", {"marker": str(marker), "fail": fail})
    huey = RuntimeHuey("default", backend, list(rt.registry), lease_seconds=LEASE)
    task = huey.dequeue()
    assert task is not None
    runner = threading.Thread(target=huey.execute, args=(task,))
    runner.start()
    wait_for(marker.exists, 10, "the job to start")
    assert control.cancel_job(backend, job_id)["cancel_requested"] is True
    huey.leases.watch_cancels()  # what the lease renewer does every second
    runner.join(10)
    assert not runner.is_alive()
    record = rt.job(job_id) or {}
    assert (record["state"], record["attempts"]) == ("canceled", 1)


def test_process_job_ignoring_the_cancel_is_ended_after_the_grace(
    tmp_path: Path, backend_url: str
) -> None:
    # On SQLite too: the consumer forks the new process worker while the worker
    # process's heartbeat threads use the file (runtime/backends/sqlite/connection.py).
    config = write_config(tmp_path, backend_url, workers=1, extra="cancel_grace = 0.5")
    text = config.read_text().replace("workers = 1", 'workers = 1\nworker_type = "process"')
    config.write_text(text)
    rt = Runtime(config=load_config(config))
    marker = tmp_path / "pid"
    job_id = rt.enqueue("testjobs.ignore_cancel", {"marker": str(marker), "seconds": 120})
    with Daemon(config) as daemon:
        wait_for(marker.exists, 30, "the job to start")
        pid = int(marker.read_text())
        done = run_cli("job", "cancel", job_id, "-c", str(config))
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"{job_id} cancel requested"
        wait_for(lambda: (rt.job(job_id) or {}).get("state") == "canceled", 20, "canceled")
        wait_for(lambda: not psutil.pid_exists(pid), 10, "the worker process to end")
        # Huey's consumer starts a new process worker, which takes the next job.
        after = rt.enqueue("diagnostics.echo", {"message": "after"})
        wait_for(lambda: (rt.job(after) or {}).get("state") == "completed", 30, "next job")
        assert daemon.terminate() == 0
    assert "did not stop 0.5s after it was canceled" in daemon.output()
