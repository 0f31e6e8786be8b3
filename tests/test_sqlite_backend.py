"""SQLite-only behaviour: the database file itself and the query plans."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from runtime.backends import open_backend
from runtime.backends.base.storage import FINAL_STATES, NewJob
from runtime.backends.sqlite.storage import SqliteBackend
from runtime.errors import BackendUnavailable


# -- SQLite only: the file itself ----------------------------------------------------------
def unopenable_paths(tmp_path: Path) -> dict[str, Path]:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a SQLite database, just some text " * 200)
    a_file = tmp_path / "plain-file"
    a_file.write_text("x")
    folder = tmp_path / "folder.db"
    folder.mkdir()
    return {"garbage": garbage, "directory": folder, "under-a-file": a_file / "runtime.db"}


@pytest.mark.parametrize("case", ["garbage", "directory", "under-a-file"])
def test_sqlite_unusable_file_raises_backend_unavailable(tmp_path: Path, case: str) -> None:
    path = unopenable_paths(tmp_path)[case]
    with pytest.raises(BackendUnavailable) as raised:
        open_backend(f"sqlite:///{path}")
    message = str(raised.value)
    assert message.startswith(f"cannot open SQLite database {path}: ")
    assert message.endswith(".") and "\n" not in message
    assert raised.value.exit_code == 3


def test_sqlite_ping_fails_once_the_file_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    backend = open_backend(f"sqlite:///{path}")
    try:
        backend.ping()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        with pytest.raises(BackendUnavailable, match=f"cannot open SQLite database {path}: "):
            backend.ping()
    finally:
        backend.close()


def test_sqlite_creates_the_parent_folder_and_shows_its_url(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "deeper" / "runtime.db"
    backend = open_backend(f"sqlite:///{path}")
    try:
        assert path.is_file()
        assert backend.display_url == f"sqlite:///{path}"
    finally:
        backend.close()


def test_sqlite_huey_kv_operations_still_work(tmp_path: Path) -> None:

    backend = SqliteBackend(tmp_path / "kv.db")
    try:
        assert backend.put_if_empty("cron:job:2024-01-01T00:00", b"1") is True
        assert backend.put_if_empty("cron:job:2024-01-01T00:00", b"1") is False
        backend.put_data("k", b"v")
        assert bytes(backend.peek_data("k")) == b"v"
        with pytest.raises(NotImplementedError, match="use push/claim"):
            backend.enqueue(b"x")
        with pytest.raises(NotImplementedError, match="use push/claim"):
            backend.dequeue()
    finally:
        backend.close()


def test_sqlite_hot_queries_use_indexes_not_full_scans(tmp_path: Path) -> None:

    from runtime.backends.sqlite import schema as module

    SqliteBackend(tmp_path / "plan.db").close()
    conn = sqlite3.connect(tmp_path / "plan.db")
    queries = {
        module.SQL_HAS_WAITING: ("q",),
        module.SQL_CLAIM: ("tok", 1.0, 2.0, "w", "q"),
        module.SQL_PROMOTE: ("q", 1.0, 1000),
        module.SQL_EXPIRED: ("q", 1.0, 1000),
        module.SQL_REAP: ("id",),
        module.SQL_PENDING_KEY: ("k",),
        module.SQL_FINISHED_KEY: ("k",),
        module.SQL_STALL: (1.0, "{}", "id"),
        module.SQL_KEYS.format("?, ?"): ("a", "b"),
        module.SQL_REQUEUE: {"key": "k", "data": None, "head": None, "start": None, "id": "i"},
        module.SQL_FINISHED_SLICE: ("q", "failed", 1.0, 500, 0),
        module.SQL_KEEP_CUTOFF: ("q", "failed", 100),
        module.SQL_PURGE: ("q", "failed", 1.0, 1.0, 7, 1000),
        module.SQL_COUNTS.format("?, ?"): ("q", "r"),
        **{
            sql: ("q", state, 50, 0) if state in FINAL_STATES else ("q", 50, 0)
            for state, sql in module.SQL_STATE_SLICES.items()
        },
    }
    try:
        for sql, params in queries.items():
            plan = [row[3] for row in conn.execute(f"explain query plan {sql}", params)]
            assert not any(step.startswith("SCAN") for step in plan), (sql, plan)
            assert not any("TEMP B-TREE" in step for step in plan), (sql, plan)
            assert any("INDEX" in step or "PRIMARY KEY" in step for step in plan), (sql, plan)
    finally:
        conn.close()


def test_sqlite_adds_the_stalls_column_to_an_older_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    backend = SqliteBackend(path)
    job = NewJob(id="j1", job="tests.echo", queue="q", data=b"{}")
    backend.push(job)
    backend.close()
    with sqlite3.connect(path) as conn:  # the table as the first release created it
        conn.execute("drop trigger jobs_event_state")  # it reads `stalls`; added later
        conn.execute("alter table jobs drop column stalls")
    backend = SqliteBackend(path)
    try:
        assert backend.get_job("j1")["stalls"] == 0  # type: ignore[index]
        claim = backend.claim("q", 30, 0)
        assert claim is not None
        assert backend.reap_expired("q", claim.deadline + 1, max_stalls=1).stalled == ["j1"]
        assert backend.get_job("j1")["stalls"] == 1  # type: ignore[index]
    finally:
        backend.close()
    SqliteBackend(path).close()  # opening it again finds the column and leaves it


def test_sqlite_canceled_jobs_are_requeued_and_purged(tmp_path: Path) -> None:
    """No backend operation cancels yet: store what a cancel would, by hand."""
    path = tmp_path / "canceled.db"
    backend = SqliteBackend(path)
    try:
        backend.push_many(
            [NewJob(id=i, job="tests.echo", queue="q", data=b"{}") for i in ("a", "b")]
        )
        with sqlite3.connect(path) as conn:
            conn.execute("update jobs set state = 'canceled', finished_at = 5.0 where id = 'a'")
            conn.execute("update jobs set state = 'canceled', finished_at = 6.0 where id = 'b'")
        assert backend.requeue("a") is True
        assert backend.get_job("a")["state"] == "waiting"  # type: ignore[index]
        assert backend.purge("q", "canceled", finished_before=7.0) == 1
        assert backend.get_job("b") is None
        claim = backend.claim("q", 30, 0)
        assert claim is not None and claim.job_id == "a"
    finally:
        backend.close()


def test_sqlite_counts_the_jobs_of_an_older_database_once(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    backend = SqliteBackend(path)
    backend.push_many(
        [NewJob(id=f"j{n}", job="tests.echo", queue="q", data=b"{}") for n in range(3)]
    )
    backend.close()
    with sqlite3.connect(path) as conn:  # as before the counts table existed
        conn.execute("drop table job_counts")
    backend = SqliteBackend(path)
    try:
        assert backend.queue_counts(["q"])["q"]["waiting"] == 3
        backend.delete("j0")
        assert backend.queue_counts(["q"])["q"]["waiting"] == 2
    finally:
        backend.close()
    backend = SqliteBackend(path)  # opening it again does not count twice
    assert backend.queue_counts(["q"])["q"]["waiting"] == 2
    backend.close()


# -- SQLite only: forks (Huey forks process workers) -----------------------------------------
FORKS = 30  # children forked while a thread writes; before the fix most hung, once in a few
CHILD_SECONDS = 10.0  # a child does a few milliseconds of work: longer is a hang


def _child_uses_the_file(shared: SqliteBackend, path: Path, n: int) -> None:
    """In the forked child: use the object inherited from the parent (as Huey's process
    workers use the engine's backend) and a new one (as a child's own threads would)."""
    shared.put_worker(f"child-{n}", {"n": n}, 60)
    own = SqliteBackend(path)
    own.put_worker(f"child-{n}-own", {"n": n}, 60)
    assert {f"child-{n}", f"child-{n}-own"} <= {w["id"] for w in own.workers()}


def test_sqlite_children_forked_while_a_thread_writes_do_not_hang(tmp_path: Path) -> None:
    """A child forked while another thread of the parent was inside SQLite inherited the
    library's per-process state as it was at that instant (a mutex held, a WAL lock noted
    as this process's) and waited for ever; the database is now quiesced around forks."""
    path = tmp_path / "fork.db"
    busy = SqliteBackend(path)  # the thread's own connection, as the worker's heartbeat's
    shared = SqliteBackend(path)
    stop = threading.Event()

    def write_and_read() -> None:
        n = 0
        while not stop.is_set():
            busy.put_worker(f"parent-{n % 5}", {"n": n}, 60)
            busy.workers()
            n += 1

    thread = threading.Thread(target=write_and_read, daemon=True)
    thread.start()
    fork = multiprocessing.get_context("fork")
    try:
        for n in range(FORKS):
            child = fork.Process(target=_child_uses_the_file, args=(shared, path, n))
            child.start()
            child.join(CHILD_SECONDS)
            if child.is_alive():
                child.kill()
                child.join()
                pytest.fail(f"child {n + 1} of {FORKS} hung on the database after the fork")
            assert child.exitcode == 0, f"child {n + 1} failed"
    finally:
        stop.set()
        thread.join(CHILD_SECONDS)
        busy.close()
        shared.close()
    assert not thread.is_alive()
