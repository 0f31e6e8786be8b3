"""Bounded input (issue 9, item 6): payloads capped at enqueue, job errors capped where
they are kept, and multi-job calls bounded by bytes as well as by count."""

from __future__ import annotations

from pathlib import Path

import pytest

import runtime.backends.redis.storage as redis_storage
import runtime.producer as producer
from runtime import InvalidPayload, Runtime
from runtime.backends.base.storage import Backend, NewJob
from runtime.backends.redis import keys
from runtime.backends.redis.storage import RedisBackend
from runtime.backends.sqlite.storage import SqliteBackend
from runtime.chunks import bounded
from runtime.config import Config, PluginsSection, RuntimeSection
from runtime.engine import RuntimeHuey
from runtime.messages import MESSAGE_CAP, TRACEBACK_CAP, capped
from tests.helpers import TEST_PLUGIN, run_cli, write_config


def small_runtime(backend: Backend, limit: int = 1000) -> Runtime:
    config = Config(
        runtime=RuntimeSection(max_payload_bytes=limit),
        plugins=PluginsSection(modules=[str(TEST_PLUGIN)]),
    )
    return Runtime(backend, config=config)


def test_a_payload_over_the_cap_is_refused_and_nothing_is_stored(backend: Backend) -> None:
    rt = small_runtime(backend)
    big = {"message": "x" * 1000}  # 1,014 bytes as JSON
    sentence = (
        "payload for diagnostics.echo is 1,014 bytes as JSON; at most 1,000 "
        "([runtime] max_payload_bytes)."
    )
    with pytest.raises(InvalidPayload) as err:
        rt.enqueue("diagnostics.echo", big)
    assert str(err.value) == sentence
    with pytest.raises(InvalidPayload):
        rt.enqueue_many("diagnostics.echo", [{"message": "ok"}, big])
    assert backend.list_jobs().jobs == []
    assert rt.job(rt.enqueue("diagnostics.echo", {"message": "x" * 986})) is not None  # 1,000


def test_the_cli_refuses_a_payload_over_the_cap_with_exit_2(
    tmp_path: Path, sqlite_url: str
) -> None:
    config = write_config(tmp_path, sqlite_url, extra="max_payload_bytes = 100")
    payload = '{"message": "' + "x" * 200 + '"}'
    done = run_cli("enqueue", "diagnostics.echo", "--payload", payload, "-c", str(config))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "runtime: payload for diagnostics.echo is 214 bytes as JSON; at most 100 "
        "([runtime] max_payload_bytes)."
    )
    assert '"jobs": []' in run_cli("job", "list", "--json", "-c", str(config)).stdout


def test_a_job_error_is_capped_with_a_marker(backend: Backend) -> None:
    rt = small_runtime(backend, limit=10**6)
    job_id = rt.enqueue("testjobs.leak", {"dsn": "y" * (MESSAGE_CAP * 3)})
    huey = RuntimeHuey("default", backend, list(rt.registry), lease_seconds=15, claim_timeout=0.2)
    task = huey.dequeue()
    assert task is not None
    huey.execute(task)
    error = (rt.job(job_id) or {})["error"]
    assert error["message"].endswith(" more characters]")
    assert len(error["message"]) < MESSAGE_CAP + 40
    assert len(error["traceback"]) < TRACEBACK_CAP + 40
    assert capped("short", 10) == "short"
    assert capped("x" * 12, 10) == "x" * 10 + "... [cut: 2 more characters]"


def test_pieces_are_bounded_by_count_and_by_bytes() -> None:
    sizes = [5, 5, 5, 20, 1, 1, 1, 1]
    pieces = list(bounded(sizes, lambda n: n, max_items=3, max_bytes=12))
    assert pieces == [[5, 5], [5], [20], [1, 1, 1], [1]]  # a large item alone: its own piece
    assert [x for piece in pieces for x in piece] == sizes


def test_large_jobs_make_smaller_calls_and_all_arrive_in_order(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(producer, "PUSH_CHUNK_BYTES", 2_000)
    monkeypatch.setattr(redis_storage, "PUSH_BATCH_BYTES", 1_500)
    rt = small_runtime(backend, limit=10**6)
    ids = rt.enqueue_many(
        "diagnostics.echo", [{"message": f"{i:03d}" + "z" * 400} for i in range(20)]
    )
    assert len(set(ids)) == 20
    waiting = [row["id"] for row in backend.list_jobs(state="waiting", limit=50).jobs]
    assert waiting == ids  # claim order is push order


@pytest.mark.redis
def test_redis_push_many_splits_a_batch_by_bytes(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = redis_storage.scripts.evalsha_many
    monkeypatch.setattr(redis_storage, "PUSH_BATCH_BYTES", 1_000)
    monkeypatch.setattr(
        redis_storage.scripts,
        "evalsha_many",
        lambda conn, script, batch: calls.append(len(batch)) or real(conn, script, batch),
    )
    backend = redis_storage.RedisBackend(redis_url)
    try:
        jobs = [
            NewJob(id=f"big{i}", job="diagnostics.echo", queue="bytes", data=b"{}" * 200)
            for i in range(10)
        ]
        results = backend.push_many(jobs)
        assert [r.id for r in results] == [job.id for job in jobs]
        assert calls == [5]  # one pipelined round trip, of five bounded script calls
    finally:
        backend.close()


def stored_bytes(backend: Backend, job_id: str) -> int:
    """Bytes the backend keeps for one job record (Redis: the hash's memory; SQLite: the
    row's message and payload columns)."""
    if isinstance(backend, RedisBackend):
        return int(backend.conn.memory_usage(keys.job(job_id), samples=0) or 0)
    assert isinstance(backend, SqliteBackend)
    sql = "select length(data) + length(payload) from jobs where id = ?"
    return int(backend._read(lambda cur: cur.execute(sql, (job_id,)).fetchone())[0])


def test_the_payload_is_stored_once(backend: Backend) -> None:
    rt = small_runtime(backend, limit=1024 * 1024)
    payload = {"message": "x" * 500_000}
    job_id = rt.enqueue("diagnostics.echo", payload)
    assert (backend.get_job(job_id) or {})["payload"] == payload
    listed = backend.list_jobs(queue="default").jobs
    assert [job["payload"] for job in listed] == [payload]
    # Once: the message holds it, the record reads it from there (twice would be 1 MB).
    assert 500_000 < stored_bytes(backend, job_id) < 600_000
