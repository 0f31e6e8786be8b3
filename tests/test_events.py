"""Events: lifecycle events written with each transition, control events by `audit`, the
capped log and `runtime events`, on both backends."""

from __future__ import annotations

import json
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from runtime import control, events
from runtime.backends.base.events import EVENT_KEYS, EVENTS_CAP
from runtime.backends.base.storage import Backend
from runtime.backends.redis.storage import RedisBackend
from runtime.backends.sqlite.events import TRIM_EVERY
from runtime.backends.sqlite.storage import SqliteBackend
from runtime.config import Config, PluginsSection
from runtime.engine import RuntimeHuey
from runtime.producer import Runtime
from tests.helpers import TEST_PLUGIN, clean_env, write_config
from tests.test_backend_contract import ERROR, LEASE, must_claim, new_job


def log(backend: Backend, after: str | None = None) -> list[dict[str, Any]]:
    """Every event after `after` (or all), oldest first."""
    return backend.events.read(after, limit=1000)


def kinds(backend: Backend, after: str | None = None) -> list[tuple[str, str | None]]:
    return [(e["type"], e["job_id"]) for e in log(backend, after)]


def mark(backend: Backend) -> str | None:
    """The id of the newest event: read what follows with `log(backend, mark)`."""
    newest = backend.events.read(limit=1)
    return newest[-1]["id"] if newest else None


# -- lifecycle -------------------------------------------------------------------------------
def test_push_and_push_many_emit_enqueued_without_the_payload(backend: Backend) -> None:
    one = new_job(payload={"email": "bob@example.com"})
    now = new_job(job="tests.other")
    later = new_job(eta=time.time() + 60)
    backend.push(one)
    backend.push_many([now, later])
    shown = log(backend)
    assert [(e["type"], e["job_id"], e["state"]) for e in shown] == [
        ("enqueued", one.id, "waiting"),
        ("enqueued", now.id, "waiting"),
        ("enqueued", later.id, "delayed"),
    ]
    assert (shown[1]["queue"], shown[1]["job"]) == ("q", "tests.other")
    assert "payload" not in shown[0] and "bob" not in json.dumps(shown)
    for event in shown:
        assert set(EVENT_KEYS) <= event.keys()
        assert abs(event["ts"] - time.time()) < 60  # a unix time, not a duration


def test_a_deduplicated_push_emits_nothing(backend: Backend) -> None:
    backend.push(new_job(key="k"))
    before = mark(backend)
    assert backend.push(new_job(key="k")).deduplicated
    assert log(backend, before) == []


def test_a_run_emits_started_progress_and_completed(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    claim = must_claim(backend)
    backend.progress(claim.job_id, claim.token, 40, "parsing")
    backend.complete(claim.job_id, claim.token, '"ok"')
    started, progress, completed = log(backend)[1:]
    assert (started["type"], started["attempt"], started["job"]) == ("started", 1, "tests.echo")
    assert progress["type"] == "progress"
    assert progress["progress"] == {"percent": 40.0, "stage": "parsing"}
    assert (completed["type"], completed["job_id"], completed["queue"]) == (
        "completed",
        job.id,
        "q",
    )


def test_complete_and_claim_emits_completed_then_started(backend: Backend) -> None:
    first, second = new_job(), new_job()
    backend.push_many([first, second])
    claim = must_claim(backend)
    before = mark(backend)
    backend.complete_and_claim(claim.job_id, claim.token, None, "q", LEASE)
    assert kinds(backend, before) == [("completed", first.id), ("started", second.id)]


def test_stale_tokens_emit_nothing(backend: Backend) -> None:
    backend.push(new_job())
    claim = must_claim(backend)
    before = mark(backend)
    assert not backend.complete(claim.job_id, "stale", None)
    assert not backend.progress(claim.job_id, "stale", 5, None)
    assert not backend.fail(claim.job_id, "stale", ERROR)
    assert log(backend, before) == []


def test_retrying_and_failed_carry_the_error_without_its_traceback(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    claim = must_claim(backend)
    eta = time.time() + 30
    backend.retry(claim.job_id, claim.token, claim.data, eta, ERROR)
    before = mark(backend)
    backend.promote_due("q", eta + 1)  # a promotion is not an event
    assert log(backend, before) == []
    claim = must_claim(backend)
    backend.fail(claim.job_id, claim.token, ERROR)
    shown = [e for e in log(backend) if e["type"] in ("retrying", "failed")]
    brief = {"type": "ValueError", "message": "boom"}
    assert [(e["type"], e["error"]) for e in shown] == [("retrying", brief), ("failed", brief)]
    assert shown[0]["eta"] == pytest.approx(eta)
    assert "Traceback" not in json.dumps(log(backend))


def test_a_buried_message_emits_failed(backend: Backend) -> None:
    job_id = backend.bury("q", b"not json", "cannot decode the message")
    (event,) = log(backend)
    assert (event["type"], event["job_id"], event["queue"]) == ("failed", job_id, "q")
    assert event["error"] == {"type": "PoisonMessage", "message": "cannot decode the message"}


def test_reaping_emits_recovered_then_stalled(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    for _ in range(2):
        claim = must_claim(backend)
        backend.reap_expired("q", claim.deadline + 1, max_stalls=2)
    shown = [e for e in log(backend) if e["type"] in ("recovered", "stalled")]
    assert [(e["type"], e["job_id"]) for e in shown] == [
        ("recovered", job.id),
        ("stalled", job.id),
    ]
    assert shown[0]["stalls"] == 1
    assert shown[1]["error"]["type"] == "Stalled"
    assert "2 times" in shown[1]["error"]["message"]


def test_release_requeue_and_cancel_emit_their_events(backend: Backend) -> None:
    job, other = new_job(), new_job()
    backend.push_many([job, other])
    claim = must_claim(backend)
    backend.release(claim.job_id, claim.token)
    claim = must_claim(backend)
    backend.fail(claim.job_id, claim.token, ERROR)
    backend.requeue(job.id)
    backend.cancels.cancel(other.id)
    assert kinds(backend)[-5:] == [
        ("released", job.id),
        ("started", job.id),
        ("failed", job.id),
        ("retried", job.id),
        ("canceled", other.id),
    ]


def test_a_job_run_by_the_engine_logs_its_whole_life(backend: Backend) -> None:
    rt = Runtime(backend, config=Config(plugins=PluginsSection(modules=[str(TEST_PLUGIN)])))
    job_id = rt.enqueue("diagnostics.progress", {"steps": 2, "step_seconds": 0})
    huey = RuntimeHuey("default", backend, list(rt.registry), lease_seconds=15, claim_timeout=0)
    task = huey.dequeue()
    assert task is not None
    huey.execute(task)
    shown = log(backend)
    assert [e["type"] for e in shown] == [
        "enqueued",
        "started",
        "progress",
        "progress",
        "completed",
    ]
    assert {(e["job_id"], e["job"], e["queue"]) for e in shown} == {
        (job_id, "diagnostics.progress", "default")
    }


# -- control events --------------------------------------------------------------------------
def test_audit_records_actor_action_and_masked_details(backend: Backend) -> None:
    event_id = events.audit(
        backend,
        "job.retry",
        queue="q",
        job_id="j1",
        job="tests.echo",
        password="hunter2",
        email="bob@example.com",
        count=3,
    )
    (event,) = log(backend)
    assert event["id"] == event_id
    assert event["type"] == "control"
    assert (event["action"], event["queue"], event["job_id"], event["job"]) == (
        "job.retry",
        "q",
        "j1",
        "tests.echo",
    )
    assert event["actor"] == events.actor() and "@" in event["actor"]
    assert event["details"] == {"password": "***", "email": "b***", "count": 3}


def test_audit_without_a_queue_or_job(backend: Backend) -> None:
    events.audit(backend, "alert.ack")
    (event,) = log(backend)
    assert (event["queue"], event["job_id"], event["job"], event["details"]) == (
        None,
        None,
        None,
        {},
    )


# -- reading ---------------------------------------------------------------------------------
def test_read_gives_the_newest_then_pages_forward_with_after(backend: Backend) -> None:
    jobs = [new_job() for _ in range(6)]
    backend.push_many(jobs)
    newest = backend.events.read(limit=2)
    assert [e["job_id"] for e in newest] == [j.id for j in jobs[4:]]  # oldest first
    pages: list[list[str]] = []
    after = backend.events.read(limit=6)[0]["id"]
    while page := backend.events.read(after, limit=2):
        pages.append([e["job_id"] for e in page])
        after = page[-1]["id"]
    assert pages == [[j.id for j in jobs[1:3]], [j.id for j in jobs[3:5]], [jobs[5].id]]


def test_read_blocks_until_an_event_arrives(backend: Backend) -> None:
    backend.push(new_job())
    after = mark(backend)
    job = new_job()
    pusher = threading.Timer(0.2, backend.push, args=(job,))
    pusher.start()
    try:
        shown = backend.events.read(after, limit=10, block=30)
    finally:
        pusher.join()
    assert [e["job_id"] for e in shown] == [job.id]


def test_read_on_an_empty_log_blocks_for_the_first_event(backend: Backend) -> None:
    job = new_job()
    pusher = threading.Timer(0.2, backend.push, args=(job,))
    pusher.start()
    try:
        shown = backend.events.read(limit=10, block=30)
    finally:
        pusher.join()
    assert [e["job_id"] for e in shown] == [job.id]


def test_control_read_filters_and_returns_a_cursor(backend: Backend) -> None:
    mine, theirs = new_job("a"), new_job("b")
    backend.push_many([mine, theirs])
    events.audit(backend, "queue.pause", queue="a")
    shown, cursor = control.read_events(backend, queue="a")
    assert [(e["type"], e["queue"]) for e in shown] == [("enqueued", "a"), ("control", "a")]
    assert control.read_events(backend, event_type="control", limit=1)[0] == [shown[-1]]
    assert control.read_events(backend, job_id=theirs.id)[0][0]["job_id"] == theirs.id
    backend.push(new_job("b"))
    shown, following = control.read_events(backend, after=cursor, queue="a")
    assert shown == [] and following != cursor  # the cursor moves past what was filtered


# -- the cap ---------------------------------------------------------------------------------
def test_sqlite_trims_the_oldest_events_beyond_the_cap(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / "db.sqlite")
    try:
        old = new_job()
        backend.push(old)
        # Jump the ids to the cap: the next trim point deletes every older event.
        backend.events.append({"type": "control", "action": "filler"})
        raw = sqlite3.connect(tmp_path / "db.sqlite")
        raw.execute("update events set id = ? where id = 2", (EVENTS_CAP + TRIM_EVERY - 1,))
        raw.commit()
        raw.close()
        fresh = new_job()
        backend.push(fresh)  # id EVENTS_CAP + TRIM_EVERY: a trim point
        assert [e["job_id"] for e in log(backend)] == [None, fresh.id]
    finally:
        backend.close()


@pytest.mark.redis
def test_redis_trims_the_stream_near_the_cap(redis_url: str) -> None:
    backend = RedisBackend(redis_url)
    raw = redis.Redis.from_url(redis_url)
    try:
        # Fill the stream past the cap server-side (one call), then let a script trim it.
        fill = "for i = 1, tonumber(ARGV[1]) do redis.call('XADD', KEYS[1], '*', 'type', 'x') end"
        raw.eval(fill, 1, "rt:events", EVENTS_CAP + 1000)
        job = new_job()
        backend.push(job)
        # MAXLEN ~ trims whole stream nodes (100 entries each by default).
        assert EVENTS_CAP <= raw.xlen("rt:events") <= EVENTS_CAP + 100
        assert backend.events.read(limit=1)[0]["job_id"] == job.id
    finally:
        backend.close()


# -- the CLI ---------------------------------------------------------------------------------
def test_cli_follow_prints_new_events_as_json_lines(tmp_path: Path, backend_url: str) -> None:
    config = write_config(tmp_path, backend_url)
    rt = Runtime.from_config(config)
    before = rt.enqueue("diagnostics.echo", {"message": "before"})
    follow = subprocess.Popen(
        [sys.executable, "-m", "runtime", "events", "-c", str(config), "--follow", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in follow.stdout or []])
    reader.start()
    try:
        # The newest events first; once printed, the follower is past its first read, so
        # the next job's line comes from following.
        assert json.loads(lines.get(timeout=30))["job_id"] == before
        job_id = rt.enqueue("diagnostics.echo", {"message": "hi"})
        event = json.loads(lines.get(timeout=30))
        assert (event["type"], event["job_id"], event["job"], event["queue"]) == (
            "enqueued",
            job_id,
            "diagnostics.echo",
            "default",
        )
        assert set(EVENT_KEYS) <= event.keys()
    finally:
        rt.backend.close()
        follow.terminate()
        code = follow.wait(30)
        reader.join()
    assert code == 0, follow.stderr.read() if follow.stderr else ""
