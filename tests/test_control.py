"""Dead letters and retention through runtime.control and the CLI, on both backends."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runtime import control
from runtime.backends.base import Backend
from runtime.config import Config, PluginsSection, RetentionSection
from runtime.durations import parse_duration
from runtime.engine import RuntimeHuey
from runtime.errors import BadInput
from runtime.producer import Runtime
from tests.helpers import TEST_PLUGIN, cli_json, run_cli, write_config


@pytest.fixture
def rt(backend: Backend) -> Runtime:
    return Runtime(backend, config=Config(plugins=PluginsSection(modules=[str(TEST_PLUGIN)])))


def run_all(rt: Runtime) -> None:
    """Run every claimable job once, in-process (retries land in `retrying`)."""
    huey = RuntimeHuey("default", rt.backend, list(rt.registry), lease_seconds=15, claim_timeout=0)
    while (task := huey.dequeue()) is not None:
        huey.execute(task)


def dead_letter(rt: Runtime, times: int = 9) -> str:
    """A diagnostics.fail job with no retries left, dead-lettered."""
    job_id = rt.enqueue("diagnostics.fail", {"times": times})
    for _ in range(4):
        rt.backend.promote_due("default", time.time() + 3600)
        run_all(rt)
    assert (rt.job(job_id) or {})["state"] == "failed"
    return job_id


def test_retry_gives_a_dead_job_its_retries_again(rt: Runtime) -> None:
    job_id = dead_letter(rt, times=5)  # fails attempts 1-4, would pass on attempt 6
    record = control.retry_job(rt.backend, rt.registry, job_id)
    assert (record["state"], record["attempts"], record["error"]) == ("waiting", 4, None)
    run_all(rt)  # attempt 5 fails but has fresh retries: retrying, not failed
    assert (rt.job(job_id) or {})["state"] == "retrying"
    rt.backend.promote_due("default", time.time() + 3600)
    run_all(rt)
    assert (rt.job(job_id) or {})["state"] == "completed"


def test_retry_refuses_jobs_that_are_not_dead(rt: Runtime) -> None:
    job_id = rt.enqueue("diagnostics.echo", {})
    with pytest.raises(BadInput, match=f"job {job_id} is waiting; only failed or canceled"):
        control.retry_job(rt.backend, rt.registry, job_id)
    with pytest.raises(BadInput, match="no job with id 'nope'"):
        control.retry_job(rt.backend, rt.registry, "nope")


def test_retry_all_by_queue_and_job_name(rt: Runtime) -> None:
    dead = [dead_letter(rt) for _ in range(3)]
    poison = rt.backend.bury("default", b"junk", "not JSON")
    assert control.retry_all(rt.backend, rt.registry, "default", job="diagnostics.fail") == 3
    assert [(rt.job(i) or {})["state"] for i in dead] == ["waiting"] * 3
    assert (rt.job(poison) or {})["state"] == "failed"


def test_clean_removes_old_finished_jobs_only(rt: Runtime) -> None:
    done = rt.enqueue("diagnostics.echo", {})
    run_all(rt)
    waiting = rt.enqueue("diagnostics.echo", {})
    assert control.clean(rt.backend, "default", "completed", older_than=3600) == 0
    assert control.clean(rt.backend, None, "completed", older_than=0) == 1
    assert rt.job(done) is None
    assert (rt.job(waiting) or {})["state"] == "waiting"
    assert rt.backend.queue_counts(["default"])["default"]["completed"] == 1  # a total
    with pytest.raises(BadInput, match="final state"):
        control.clean(rt.backend, None, "waiting", older_than=0)


def test_retention_keeps_the_newest_per_queue(rt: Runtime) -> None:
    rt.enqueue_many("diagnostics.echo", [{"message": i} for i in range(5)])
    run_all(rt)
    rt.config.retention = RetentionSection(completed_max=2)
    assert control.apply_retention(rt.backend, rt.config, "default") == 3
    left = rt.backend.list_jobs(queue="default", state="completed", limit=10)
    assert sorted(row["payload"]["message"] for row in left) == [3, 4]


def test_durations() -> None:
    assert [parse_duration(t) for t in ("90s", "15m", "12h", "7d", "2w", "1.5h")] == [
        90, 900, 43200, 604800, 1209600, 5400,
    ]  # fmt: skip
    with pytest.raises(BadInput, match="'7 days' is not a duration"):
        parse_duration("7 days")


def test_cli_retry_and_clean(tmp_path: Path, backend_url: str, backend: Backend) -> None:
    config = str(write_config(tmp_path, backend_url))
    rt = Runtime(backend, config=Config(plugins=PluginsSection(modules=[str(TEST_PLUGIN)])))
    job_id = dead_letter(rt)
    assert cli_json("job", "retry", job_id, "-c", config)["state"] == "waiting"
    done = run_cli("job", "retry", job_id, "-c", config)
    assert (done.returncode, done.stderr.strip()) == (
        2,
        f"runtime: job {job_id} is waiting; only failed or canceled jobs retry.",
    )
    dead_letter(rt)  # runs the retried job too: it dies again, beside the new one
    assert cli_json("job", "retry", "--all", "--queue", "default", "-c", config) == {"retried": 2}
    assert run_cli("job", "retry", "-c", config).returncode == 2
    assert cli_json("queue", "clean", "--state", "failed", "--older-than", "0s", "-c", config) == {
        "removed": 0
    }
    bad = run_cli("queue", "clean", "--older-than", "soon", "-c", config)
    assert bad.returncode == 2 and "'soon' is not a duration" in bad.stderr
