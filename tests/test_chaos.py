"""Chaos suite: real daemons, real `kill -9`, a real redis-server stopped mid-run.

Each test breaks real processes, then counts what the jobs' own output and the backend's
records say happened: no job lost, duplicates only for jobs that were running at a kill
(at-least-once, DESIGN.md "Reliability semantics"), the daemon alive where it should be.
Run with `-s` to see the figures (lost, duplicates, recovery seconds); `CHAOS_SEED=N`
replays the kill moments of a previous run.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import random
import signal
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import redis

from runtime.backends import sqlite_path
from runtime.backends.redis import keys
from runtime.config import load_config
from runtime.errors import BackendUnavailable
from runtime.producer import Runtime
from tests.helpers import TEST_PLUGIN, Daemon, run_cli, wait_for, write_config
from tests.redis_server import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.chaos]

LEASE = 2.0
RENEW = LEASE / 3  # what write_config derives from the lease
WORKERS = 4
PREFETCH = 2  # a worker thread holds its running job plus the one its ack claimed
KILLS = 3
JOBS = 5_000
RECOVERY_BOUND = LEASE + RENEW + 20.0  # seconds from a kill until every job completed


# -- small helpers -----------------------------------------------------------------------------
def producer(config: Path, **kwargs: Any) -> Runtime:
    return Runtime(config=load_config(config), **kwargs)


def chaos_config(folder: Path, backend_url: str, workers: int = WORKERS) -> Path:
    """write_config with short leases and only the listed plugin modules (no entry points:
    whatever else is installed cannot stop a daemon from starting), keeping every finished
    record (retention would trim them) so a test can check each job's final state. A job
    running at all three kills of (a) would be dead-lettered as stalled by design; with
    max_stalls raised the suite checks what it is about: nothing lost."""
    config = write_config(folder, backend_url, workers=workers, lease=LEASE)
    text = config.read_text().replace("\n[plugins]\n", "\n[plugins]\nautoload = false\n")
    text = text.replace("[runtime]\n", "[runtime]\nmax_stalls = 10\n")
    text += "\n[retention]\ncompleted_max = 1000000\nfailed_max = 1000000\n"
    config.write_text(text)
    return config


def backend_name(url: str) -> str:
    return url.split(":", 1)[0]


def report(test: str, backend: str, **figures: object) -> None:
    """One line of figures per test and backend (shown with `pytest -s`)."""
    text = " ".join(f"{name}={value}" for name, value in figures.items())
    print(f"\nchaos[{test}/{backend}] {text}")


def enqueue_marks(rt: Runtime, out: Path, count: int, sleep: float = 0.0) -> list[str]:
    """`count` testjobs.mark jobs numbered 0..count-1, all appending to `out`."""
    payloads = [{"path": str(out), "n": n, "sleep": sleep} for n in range(count)]
    return rt.enqueue_many("testjobs.mark", payloads)


def runs(out: Path) -> list[tuple[int, int]]:
    """(job number, attempt) of every run that reached its write."""
    if not out.exists():
        return []
    return [(int(n), int(attempt)) for n, attempt in (line.split() for line in out.open())]


def line_count(out: Path) -> int:
    return out.read_bytes().count(b"\n") if out.exists() else 0


def reached(out: Path, count: int) -> bool:
    return line_count(out) >= count


def completed_total(rt: Runtime) -> int:
    return rt.backend.queue_counts(["default"])["default"]["completed"]


def states(rt: Runtime, ids: Iterable[str]) -> Counter[str]:
    return Counter((rt.job(job_id) or {}).get("state", "missing") for job_id in ids)


def tolerant(predicate: Callable[[], Any]) -> Callable[[], Any]:
    """`predicate`, reading False while the backend is unreachable."""

    def check() -> Any:
        try:
            return predicate()
        except (redis.ConnectionError, redis.TimeoutError):
            return False

    return check


def settle(
    predicate: Callable[[], Any], timeout: float, since: float, daemon: Daemon
) -> float | None:
    """Seconds from `since` (a monotonic time) until `predicate` held, or None if it still
    did not after `timeout` more seconds or the daemon died (the caller reports its
    figures, then fails)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(daemon):
        if predicate():
            return time.monotonic() - since
        time.sleep(0.05)
    return None


def seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}"


def tally(out: Path, count: int) -> tuple[list[int], int, int]:
    """Lost job numbers, job numbers run more than once, and extra runs in all; asserts
    that no single claim ran twice (a re-run always carries a new attempt number)."""
    attempts: dict[int, list[int]] = {}
    for n, attempt in runs(out):
        attempts.setdefault(n, []).append(attempt)
    for n, seen in attempts.items():
        assert len(seen) == len(set(seen)), f"job {n} ran twice under one claim: {seen}"
    lost = [n for n in range(count) if n not in attempts]
    duplicated = sum(1 for seen in attempts.values() if len(seen) > 1)
    extra = sum(len(seen) - 1 for seen in attempts.values())
    return lost, duplicated, extra


# -- processes ---------------------------------------------------------------------------------
def kill_group(daemon: Daemon) -> float:
    """SIGKILL the daemon and its worker processes at once; the monotonic time of the kill."""
    assert daemon.proc is not None
    os.killpg(daemon.proc.pid, signal.SIGKILL)
    killed = time.monotonic()
    daemon.proc.wait(10)
    return killed


def child_pids(parent: int) -> list[int]:
    """Live (non-zombie) processes whose parent is `parent`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it exited meanwhile
            continue
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if int(ppid) == parent and state != "Z":
            found.append(int(entry.name))
    return sorted(found)


def worker_pid(daemon: Daemon, other_than: int = 0) -> int | None:
    """The daemon's one worker process (one queue here), unless it is `other_than`."""
    assert daemon.proc is not None
    pids = [pid for pid in child_pids(daemon.proc.pid) if pid != other_than]
    return pids[0] if len(pids) == 1 else None


def alive(daemon: Daemon) -> bool:
    return daemon.proc is not None and daemon.proc.poll() is None


def while_alive(daemon: Daemon, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """wait_for `predicate`, failing at once (with the daemon's last words) if it dies."""
    value = wait_for(lambda: predicate() or not alive(daemon), timeout, what)
    assert alive(daemon), f"the daemon died waiting for {what}:\n{daemon.output()[-2000:]}"
    return value


# -- (a) kill -9 the whole daemon, three times -------------------------------------------------
def test_kill_daemon_group_three_times_loses_nothing(tmp_path: Path, backend_url: str) -> None:
    seed = int(os.environ.get("CHAOS_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    config = chaos_config(tmp_path, backend_url)
    rt = producer(config)
    out = tmp_path / "runs.txt"
    ids = enqueue_marks(rt, out, JOBS)
    # Kill when the runs written pass random marks: mid-run, wherever the workers are.
    marks = sorted(rng.sample(range(JOBS // 10, JOBS * 8 // 10), KILLS))
    in_flight: list[int] = []
    killed = 0.0
    for mark in marks:
        with Daemon(config) as daemon:
            while_alive(daemon, partial(reached, out, mark), 60, f"{mark} runs")
            time.sleep(rng.uniform(0, 0.05))
            killed = kill_group(daemon)
        in_flight.append(len(rt.backend.list_jobs(state="active", limit=1000).jobs))
    stranded = [job["id"] for job in rt.backend.list_jobs(state="active", limit=1000).jobs]
    with Daemon(config) as daemon:
        stranded_back = settle(
            lambda: states(rt, stranded)["completed"] == len(stranded), 60, killed, daemon
        )
        recovery = settle(lambda: completed_total(rt) >= JOBS, 60, killed, daemon)
        assert daemon.terminate() == 0, daemon.output()[-2000:]
    lost, duplicated, extra = tally(out, JOBS)
    report(
        "kill-daemon",
        backend_name(backend_url),
        seed=seed,
        kill_marks=marks,
        active_at_kills=in_flight,
        lost=len(lost),
        duplicates=duplicated,
        extra_runs=extra,
        stranded_recovered_s=seconds(stranded_back),
        recovery_s=seconds(recovery),
    )
    assert lost == []
    assert states(rt, ids) == Counter({"completed": JOBS})
    # Only a job running at a kill can run again: it was still active right after it.
    assert extra <= min(sum(in_flight), KILLS * WORKERS * PREFETCH)
    assert recovery is not None and recovery < RECOVERY_BOUND


# -- (b) kill -9 one worker process; the supervisor restarts it --------------------------------
def test_killed_worker_process_is_restarted(tmp_path: Path, backend_url: str) -> None:
    config = chaos_config(tmp_path, backend_url)
    rt = producer(config)
    out = tmp_path / "runs.txt"
    count = 600
    ids = enqueue_marks(rt, out, count, sleep=0.01)
    with Daemon(config) as daemon:
        victim = while_alive(daemon, lambda: worker_pid(daemon), 20, "the worker process")
        while_alive(daemon, partial(reached, out, count // 6), 30, "the worker to get going")
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        successor = wait_for(lambda: worker_pid(daemon, victim), 30, "a new worker process")
        recovery = settle(lambda: completed_total(rt) >= count, 60, killed, daemon)
        # The new process is the one publishing heartbeats now.
        wait_for(
            lambda: any(w["pid"] == successor for w in rt.backend.workers()),
            10,
            "the new worker's heartbeat",
        )
        assert alive(daemon)
        assert daemon.terminate() == 0
    lost, duplicated, extra = tally(out, count)
    report(
        "kill-worker",
        backend_name(backend_url),
        lost=len(lost),
        duplicates=duplicated,
        extra_runs=extra,
        recovery_s=seconds(recovery),
    )
    assert lost == []
    assert states(rt, ids) == Counter({"completed": count})
    assert extra <= WORKERS * PREFETCH
    assert recovery is not None and recovery < RECOVERY_BOUND
    assert "exited with -9; restarting" in daemon.output()


# -- (c) poison messages written straight into the backend -------------------------------------
POISON = {
    "not JSON": b"\xff\xfe\x00 definitely not json",
    "not an object": b"[1, 2, 3]",
    "wrong version": b'{"v": 99, "id": "x", "job": "testjobs.mark", "payload": {}}',
    "lacks fields": b'{"v": 1, "id": "x"}',
    "payload not an object": b'{"v": 1, "id": "x", "job": "testjobs.mark", "payload": "hi"}',
}


def inject(backend_url: str, data: bytes) -> str:
    """Store a waiting job whose message is `data`, bypassing the producer; its id."""
    job_id = f"poison-{uuid.uuid4().hex[:12]}"
    if backend_url.startswith("sqlite:"):
        inject_sqlite(sqlite_path(backend_url, None), job_id, data)
    else:
        inject_redis(backend_url, job_id, data)
    return job_id


def inject_sqlite(path: Path, job_id: str, data: bytes) -> None:
    """A `jobs` row as runtime/backends/sqlite/schema.py's SQL_INSERT writes one, garbage data."""
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn, conn:
        conn.execute(
            "insert into jobs (id, job, queue, state, priority, data, payload, enqueued_at) "
            "values (?, '?', 'default', 'waiting', 0, ?, '{}', ?)",
            (job_id, data, time.time()),
        )
        conn.execute("insert or ignore into queues (name) values ('default')")


def inject_redis(url: str, job_id: str, data: bytes) -> None:
    """A job hash plus its index entries as push_job in the Redis backend's lua/lib.lua
    writes them, and a wake-up marker, with garbage data."""
    client = redis.Redis.from_url(url)
    try:
        seq = int(client.incr(keys.SEQ))
        record = {
            "id": job_id,
            "job": "?",
            "queue": "default",
            "state": "waiting",
            "attempts": 0,
            "priority": 0,
            "payload": "{}",
            "enqueued_at": time.time(),
            "data": data,
            "seq": seq,
        }
        with client.pipeline(transaction=True) as pipe:
            pipe.hset(keys.job(job_id), mapping=record)  # type: ignore[arg-type]
            pipe.zadd(keys.ALL_JOBS, {job_id: seq})
            pipe.zadd(keys.queue_jobs("default"), {job_id: seq})
            pipe.sadd(keys.QUEUES, "default")
            pipe.zadd(keys.waiting("default"), {job_id: seq})  # priority 0: score = seq
            pipe.lpush(keys.marker("default"), "1")
            pipe.execute()
    finally:
        client.close()


def final(rt: Runtime, job_id: str) -> dict[str, Any] | None:
    record = rt.job(job_id)
    return record if record and record["state"] in ("completed", "failed") else None


def test_poison_and_unknown_jobs_are_dead_lettered(tmp_path: Path, backend_url: str) -> None:
    config = chaos_config(tmp_path, backend_url)
    rt = producer(config)
    out = tmp_path / "runs.txt"
    with Daemon(config) as daemon:
        worker = while_alive(daemon, lambda: worker_pid(daemon), 20, "the worker process")
        wait_for(
            lambda: any(w["kind"] == "worker" for w in rt.backend.workers()),
            20,
            "the worker's heartbeat",
        )
        poison = {reason: inject(backend_url, data) for reason, data in POISON.items()}
        unknown = producer(config, allow_unknown=True).enqueue("nosuch.job", {"x": 1})
        normal = rt.enqueue("testjobs.mark", {"path": str(out), "n": 7})
        records = {
            name: wait_for(partial(final, rt, job_id), 30, f"{name} to finish")
            for name, job_id in [*poison.items(), ("unknown", unknown), ("normal", normal)]
        }
        assert worker_pid(daemon) == worker  # the same worker process throughout
        assert daemon.terminate() == 0
    report("poison", backend_name(backend_url), dead_lettered=len(records) - 1, normal="ok")
    assert records.pop("normal")["state"] == "completed"
    assert runs(out) == [(7, 1)]
    for name, record in records.items():
        assert (record["state"], record["error"]["type"]) == ("failed", "PoisonMessage"), name
        assert record["attempts"] == 1, name
    assert "unknown job 'nosuch.job'" in records["unknown"]["error"]["message"]
    assert "not JSON" in records["not JSON"]["error"]["message"]
    assert "exited with" not in daemon.output()


def test_message_naming_another_id_is_dead_lettered_unrun(tmp_path: Path, backend_url: str) -> None:
    """A well-formed message for a registered job stored under another id than the one
    it names (written by hand, or corrupted) must end final after one run at most."""
    config = chaos_config(tmp_path, backend_url)
    rt = producer(config)
    out = tmp_path / "runs.txt"
    payload = {"path": str(out), "n": 1}
    message = {"v": 1, "id": "some-other-id", "job": "testjobs.mark", "payload": payload}
    with Daemon(config) as daemon:
        job_id = inject(backend_url, json.dumps(message).encode())
        wait_for(lambda: final(rt, job_id) or line_count(out) > 1, 20, "the job to end")
        time.sleep(LEASE + 2)  # a re-run would follow a reaped lease
        assert daemon.terminate() == 0
    record = rt.job(job_id) or {}
    report("id-mismatch", backend_name(backend_url), state=record.get("state"), runs=len(runs(out)))
    assert record.get("state") == "failed"
    assert (record.get("error") or {}).get("type") == "PoisonMessage"
    assert "names job id some-other-id" in (record.get("error") or {}).get("message", "")
    assert line_count(out) == 0


# -- (d) Redis stopped for a few seconds while the daemon runs ---------------------------------
@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone (AOF on, so a restart keeps its data)."""
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.redis
def test_redis_restart_mid_run(tmp_path: Path, own_redis: RedisServer) -> None:
    """Redis stops for 20 s while jobs run and a producer keeps enqueueing (retrying on
    BackendUnavailable, as app code would): the daemon stays up, `runtime status` exits 3
    naming Redis, and once Redis is back every job, old and new, completes."""
    config = chaos_config(tmp_path, own_redis.url)
    rt = producer(config)
    out = tmp_path / "runs.txt"
    count, late = 300, 10
    ids = enqueue_marks(rt, out, count, sleep=0.02)
    outage = 20.0
    with Daemon(config) as daemon:
        while_alive(daemon, partial(reached, out, count // 8), 30, "the worker to get going")
        own_redis.stop()
        done_before = line_count(out)
        with ThreadPoolExecutor(1) as pool:
            late_ids = pool.submit(enqueue_through_outage, config, out, range(count, count + late))
            time.sleep(outage / 2)
            status = run_cli("status", "-c", str(config))
            time.sleep(outage / 2)
            assert alive(daemon)
            own_redis.start()
            back = time.monotonic()
            ids += late_ids.result(timeout=60)
        recovery = settle(tolerant(lambda: completed_total(rt) >= count + late), 60, back, daemon)
        assert alive(daemon)
        assert daemon.terminate() == 0
    lost, duplicated, extra = tally(out, count + late)
    report(
        "redis-restart",
        "redis",
        runs_before_outage=done_before,
        outage_s=outage,
        enqueued_during_outage=late,
        lost=len(lost),
        duplicates=duplicated,
        extra_runs=extra,
        recovery_s=seconds(recovery),
    )
    assert status.returncode == 3
    assert status.stderr.startswith(f"runtime: cannot reach Redis at {own_redis.url}")
    assert lost == []
    assert states(rt, ids) == Counter({"completed": count + late})
    assert extra <= WORKERS * PREFETCH
    assert recovery is not None
    assert "exited with" not in daemon.output()  # no worker process died either


def enqueue_through_outage(config: Path, out: Path, numbers: Iterable[int]) -> list[str]:
    """A producer that keeps trying each job until the backend takes it."""
    rt = producer(config)
    ids = []
    for n in numbers:
        while True:
            try:
                ids.append(rt.enqueue("testjobs.mark", {"path": str(out), "n": n, "sleep": 0.02}))
                break
            except BackendUnavailable:
                time.sleep(0.5)
    return ids


# -- (e) three daemons, one backend, an every-minute cron job ----------------------------------
CRON_PLUGIN = '''\
"""A cron job that appends the UTC minute it ran in (written by tests/test_chaos.py)."""

import datetime
import os

import runtime

OUT = "__OUT__"


@runtime.job(name="chaoscron.minute", cron="* * * * *")
def minute() -> None:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M")
    fd = os.open(OUT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{stamp} {os.getpid()}\\n".encode())
    finally:
        os.close(fd)


@runtime.hookimpl
def register_jobs(registry):
    registry.add(minute)
'''
DAEMONS = 3
# Huey's scheduler checks cron once at start, then every 60 s. Starting inside this window
# of seconds past the minute keeps every check, and the job it enqueues, well clear of a
# minute boundary, so each check's minute is known and no boundary race can fake a result.
START_WINDOW = (2, 40)


def cron_config(folder: Path, backend_url: str, plugin: Path) -> Path:
    folder.mkdir()
    config = chaos_config(folder, backend_url, workers=2)
    text = config.read_text().replace(f'"{TEST_PLUGIN}"', f'"{TEST_PLUGIN}", "{plugin}"')
    config.write_text(text)
    return config


def wait_for_start_window() -> None:
    second = datetime.datetime.now(datetime.UTC).second
    low, high = START_WINDOW
    if not low <= second <= high:
        time.sleep((60 - second + low) % 60)


def minutes(out: Path) -> Counter[str]:
    return Counter(line.split()[0] for line in out.open()) if out.exists() else Counter()


@pytest.mark.timeout(240)  # extra slow: two cron minutes plus the wait for a safe start
def test_cron_fires_once_per_minute_across_daemons(tmp_path: Path, backend_url: str) -> None:
    out = tmp_path / "ticks.txt"
    plugin = tmp_path / "chaoscron.py"
    plugin.write_text(CRON_PLUGIN.replace('"__OUT__"', repr(str(out))))
    configs = [cron_config(tmp_path / f"d{i}", backend_url, plugin) for i in range(DAEMONS)]
    rt = producer(configs[0])
    wait_for_start_window()
    with contextlib.ExitStack() as stack:
        daemons = [stack.enter_context(Daemon(config)) for config in configs]
        started = time.monotonic()

        def up() -> bool:
            return all(alive(daemon) for daemon in daemons)

        wait_for(lambda: len(minutes(out)) >= 2 or not up(), 100, "cron runs in two minutes")
        assert up(), [daemon.output()[-1000:] for daemon in daemons]
        # Every daemon's second check is due 60 s after its start: let them all happen.
        time.sleep(max(0.0, started + 60 + 10 - time.monotonic()))
        assert up(), [daemon.output()[-1000:] for daemon in daemons]
        assert [daemon.terminate() for daemon in daemons] == [0] * DAEMONS
    ticks = minutes(out)
    records = [
        job for job in rt.backend.list_jobs(limit=100).jobs if job["job"] == "chaoscron.minute"
    ]
    report("cron", backend_name(backend_url), daemons=DAEMONS, runs_per_minute=dict(ticks))
    assert ticks, "the cron job never ran"
    assert max(ticks.values()) == 1, f"a minute ran more than once: {ticks}"
    assert len(records) == sum(ticks.values())
    assert {job["state"] for job in records} == {"completed"}
