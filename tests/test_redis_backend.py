"""Redis-only behaviour of RedisBackend, against the suite's real redis-server.

The shared promises (ordering, leases, fencing, outcomes, listings) are in
test_backend_contract.py; here: wake-up markers, URL masking and outages, the key layout,
script (re)loading and the fallbacks only Redis needs.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

# Not `from runtime.backends import redis`: the package imports redis-py under that name.
import runtime.backends.redis.storage as redis_module
from runtime import control
from runtime.backends.base.storage import Claim, NewJob
from runtime.backends.redis import keys, records
from runtime.backends.redis.storage import RedisBackend
from runtime.config import Config, QueueSection
from runtime.errors import BackendUnavailable
from runtime.masking import mask_url
from tests.redis_server import free_port

LEASE = 30.0


@pytest.fixture
def rb(redis_url: str) -> Iterator[RedisBackend]:
    backend = RedisBackend(redis_url)
    yield backend
    backend.close()


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    """A plain client on the same server, to look at keys directly."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def new_job(queue: str = "q", **options: Any) -> NewJob:
    body = {"n": uuid.uuid4().hex[:6]}
    data = json.dumps({"job": "tests.echo", "payload": body}).encode()
    return NewJob(
        id=uuid.uuid4().hex, job="tests.echo", queue=queue, data=data, payload=body, **options
    )


def must_claim(backend: RedisBackend, queue: str = "q") -> Claim:
    claim = backend.claim(queue, LEASE, 0)
    assert claim is not None
    return claim


# -- wake-up markers -------------------------------------------------------------------------
def test_marker_list_is_capped(rb: RedisBackend, raw: redis.Redis) -> None:
    rb.push_many([new_job() for _ in range(3 * keys.MARKER_CAP)])
    assert raw.llen(keys.marker("q")) == keys.MARKER_CAP
    later = time.time() + 60
    rb.push_many([new_job("d", eta=later) for _ in range(3 * keys.MARKER_CAP)])
    assert raw.llen(keys.marker("d")) == 0  # delayed jobs wake nobody yet
    assert rb.promote_due("d", later + 1) == 3 * keys.MARKER_CAP
    assert raw.llen(keys.marker("d")) == keys.MARKER_CAP


def test_blocking_claim_wakes_up_promptly_on_a_push(rb: RedisBackend) -> None:
    job = new_job()
    pushed_at: list[float] = []

    def push() -> None:
        pushed_at.append(time.monotonic())
        rb.push(job)

    pusher = threading.Timer(0.3, push)
    pusher.start()
    try:
        claim = rb.claim("q", LEASE, 5)
    finally:
        pusher.join()
    woke = time.monotonic()
    assert claim is not None and claim.job_id == job.id
    assert woke - pushed_at[0] < 0.2  # the marker, not a poll, woke the claimer


def test_every_blocked_claimer_gets_one_of_the_jobs(rb: RedisBackend) -> None:
    claims: list[Claim | None] = []
    lock = threading.Lock()

    def wait() -> None:
        claim = rb.claim("q", LEASE, 5)
        with lock:
            claims.append(claim)

    threads = [threading.Thread(target=wait) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)  # let them block
    start = time.monotonic()
    jobs = [new_job() for _ in range(3)]
    rb.push_many(jobs)
    for thread in threads:
        thread.join(10)
    assert time.monotonic() - start < 1
    assert sorted(c.job_id for c in claims if c) == sorted(j.id for j in jobs)


def test_stale_markers_do_not_cut_the_wait_short(rb: RedisBackend, raw: redis.Redis) -> None:
    for _ in range(5):
        rb.push(new_job())
    while rb.claim("q", LEASE, 0) is not None:  # claims leave the markers behind
        pass
    assert raw.llen(keys.marker("q")) == 5
    start = time.monotonic()
    assert rb.claim("q", LEASE, 0.5) is None
    assert time.monotonic() - start >= 0.45


def test_long_claim_waits_block_in_slices_shorter_than_the_socket_timeout(
    rb: RedisBackend,
) -> None:
    rb._block_slice = 0.1
    job = new_job()
    pusher = threading.Timer(0.35, rb.push, args=(job,))
    pusher.start()
    try:
        claim = rb.claim("q", LEASE, 2)
    finally:
        pusher.join()
    assert claim is not None and claim.job_id == job.id
    start = time.monotonic()
    assert rb.claim("q", LEASE, 0.35) is None
    assert 0.3 <= time.monotonic() - start < 1


# -- URL, ping and outages ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@db.example:6379/0", "redis://:***@db.example:6379/0"),
        ("rediss://app:p%40ss@db.example:6380/2", "rediss://app:***@db.example:6380/2"),
        ("redis://app:p@ss@db.example/0", "redis://app:***@db.example/0"),
        ("redis://db.example:6379/0", "redis://db.example:6379/0"),
        ("redis://app@db.example:6379/0", "redis://app@db.example:6379/0"),
        ("unix:///run/redis.sock?db=1&password=s3cret", "unix:///run/redis.sock?db=1&password=***"),
    ],
)
def test_display_url_masks_the_password(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    backend = RedisBackend(url)  # building it does not connect
    try:
        assert backend.display_url == shown
    finally:
        backend.close()


def test_ping_on_a_closed_port_raises_backend_unavailable_quickly() -> None:
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    backend = RedisBackend(url)
    start = time.monotonic()
    try:
        with pytest.raises(BackendUnavailable) as raised:
            backend.ping()
    finally:
        backend.close()
    assert time.monotonic() - start < 1
    message = str(raised.value)
    assert message.startswith(f"cannot reach Redis at {mask_url(url)}: ")
    assert "s3cret" not in message
    assert message.endswith(".") and not message.endswith("..") and "\n" not in message
    assert raised.value.exit_code == 3


def test_ping_with_a_wrong_acl_password_raises_backend_unavailable(
    redis_server: Any, raw: redis.Redis
) -> None:
    raw.acl_setuser(
        "alice", enabled=True, passwords=["+right"], keys=["*"], channels=["*"], commands=["+@all"]
    )
    try:
        bad = RedisBackend(f"redis://alice:wrong@127.0.0.1:{redis_server.port}/0")
        with pytest.raises(BackendUnavailable, match="alice:\\*\\*\\*@"):
            bad.ping()
        bad.close()
        good = RedisBackend(f"redis://alice:right@127.0.0.1:{redis_server.port}/0")
        good.ping()
        assert good.push(new_job()).state == "waiting"
        good.close()
    finally:
        raw.acl_deluser("alice")


def test_a_unix_socket_url_works(tmp_path: Path) -> None:
    """unix:// connections reject TCP-only pool options; the backend must not pass them."""
    sock = tmp_path / "r.sock"
    binary = shutil.which("redis-server") or "redis-server"
    args = [binary, "--port", "0", "--unixsocket", str(sock), "--save", "", "--dir", str(tmp_path)]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    backend = RedisBackend(f"unix://{sock}?db=0")
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        backend.ping()
        job = new_job()
        backend.push(job)
        assert must_claim(backend).job_id == job.id
    finally:
        backend.close()
        server.terminate()
        server.wait(10)
    with pytest.raises(BackendUnavailable, match=f"unix://{sock}"):
        backend.ping()


def test_a_second_backend_on_the_same_url_sees_the_same_data(
    rb: RedisBackend, redis_url: str
) -> None:
    job = new_job(key="k")
    rb.push(job)
    rb.set_paused("q", True)
    rb.put_worker("w1", {"host": "h"}, ttl=30)
    other = RedisBackend(redis_url)
    try:
        assert other.get_job(job.id) == rb.get_job(job.id)
        assert other.push(new_job(key="k")).deduplicated is True
        assert other.paused_queues() == {"q"}
        assert other.workers() == [{"host": "h", "id": "w1"}]
        claim = must_claim(other)
        assert rb.complete(claim.job_id, claim.token, None) is True
        assert other.queue_counts(["q"])["q"]["completed"] == 1
    finally:
        other.close()


# -- key layout and records ----------------------------------------------------------------
def test_every_key_comes_from_redis_keys(rb: RedisBackend, raw: redis.Redis) -> None:
    now = time.time()
    # One job in every state set, and one left waiting: Redis drops empty keys.
    rb.push_many([new_job(key="k"), new_job(eta=now + 60), *(new_job() for _ in range(5))])
    done, dead, held, _active = (must_claim(rb) for _ in range(4))
    rb.complete(done.job_id, done.token, '"ok"')
    rb.fail(dead.job_id, dead.token, {"type": "E", "message": "m", "traceback": None})
    rb.retry(held.job_id, held.token, b"{}", now + 30, {"type": "E", "message": "m"})
    rb.bury("q", b"junk", "not JSON")
    rb.set_paused("q", True)
    rb.put_worker("w", {}, ttl=30)
    rb.put_if_empty("cron:x", b"1", 60)
    expected = {
        keys.SEQ,
        keys.ALL_JOBS,
        keys.QUEUES,
        keys.PAUSED,
        keys.WORKERS,
        keys.IDEMPOTENCY,  # the completed job keeps its key mapped until it is purged
        keys.KV_EXPIRY,
        keys.EVENTS,  # every transition above wrote an event
        keys.HUEY_RESULTS,
        *(keys.queue("q", suffix) for suffix in keys.QUEUE_SUFFIXES),
        keys.worker_jobs(f"{socket.gethostname()}:{os.getpid()}"),  # the active job's claimer
    }
    expected.discard(keys.KV_EXPIRY if rb.supports_hash_ttl else "")
    expected.discard(keys.canceled("q"))  # no backend operation cancels a job yet
    found = {records.text(k) for k in raw.keys("*")}
    job_keys = {k for k in found if k.startswith(keys.JOB_PREFIX)}
    assert len(job_keys) == 8
    assert found - job_keys == expected


def test_a_job_is_in_exactly_one_state_set_at_every_step(
    rb: RedisBackend, raw: redis.Redis
) -> None:
    def where(job_id: str) -> list[str]:
        sets = (
            keys.WAITING,
            keys.DELAYED,
            keys.ACTIVE,
            keys.FAILED,
            keys.COMPLETED,
            keys.CANCELED,
        )
        return [s for s in sets if raw.zscore(keys.queue("q", s), job_id) is not None]

    now = time.time()
    job = new_job(eta=now + 10)
    rb.push(job)
    assert where(job.id) == [keys.DELAYED]
    rb.promote_due("q", now + 11)
    assert where(job.id) == [keys.WAITING]
    claim = must_claim(rb)
    assert where(job.id) == [keys.ACTIVE]
    assert raw.zscore(keys.active("q"), job.id) == pytest.approx(claim.deadline)
    rb.retry(job.id, claim.token, job.data, now + 20, {"type": "E"})
    assert where(job.id) == [keys.DELAYED]
    rb.promote_due("q", now + 21)
    claim = must_claim(rb)
    rb.reap_expired("q", claim.deadline + 1)
    assert where(job.id) == [keys.WAITING]
    claim = must_claim(rb)
    rb.release(job.id, claim.token)
    assert where(job.id) == [keys.WAITING]
    claim = must_claim(rb)
    rb.fail(job.id, claim.token, {"type": "E"})
    assert where(job.id) == [keys.FAILED]
    assert raw.hget(keys.job(job.id), "token") is None
    assert rb.requeue(job.id) is True
    assert where(job.id) == [keys.WAITING]
    claim = must_claim(rb)
    stalled_at = claim.deadline + 1
    assert rb.reap_expired("q", stalled_at, max_stalls=1).stalled == [job.id]
    assert where(job.id) == [keys.FAILED]
    assert raw.zscore(keys.failed("q"), job.id) == stalled_at
    assert raw.hget(keys.job(job.id), "token") is None


def cancel_by_hand(raw: redis.Redis, job_id: str, at: float) -> None:
    """What a cancel would store (no backend operation cancels yet)."""
    raw.hset(keys.job(job_id), mapping={"state": "canceled", "finished_at": at})
    raw.zrem(keys.waiting("q"), job_id)
    raw.zadd(keys.canceled("q"), {job_id: at})


def test_canceled_jobs_are_requeued_and_purged_through_their_set(
    rb: RedisBackend, raw: redis.Redis
) -> None:
    first, second = new_job(), new_job()
    rb.push_many([first, second])
    now = time.time()
    cancel_by_hand(raw, first.id, now)
    cancel_by_hand(raw, second.id, now + 1)
    assert rb.requeue(first.id) is True
    assert raw.zscore(keys.canceled("q"), first.id) is None
    assert rb.get_job(first.id)["state"] == "waiting"  # type: ignore[index]
    assert rb.purge("q", "canceled", finished_before=now + 2) == 1
    assert rb.get_job(second.id) is None
    assert raw.exists(keys.canceled("q")) == 0
    assert must_claim(rb).job_id == first.id


def test_stalls_are_written_on_the_first_stall_and_read_as_0_before(
    rb: RedisBackend, raw: redis.Redis
) -> None:
    job = new_job()
    rb.push(job)
    assert raw.hexists(keys.job(job.id), "stalls") is False  # records from before stalls too
    assert rb.get_job(job.id)["stalls"] == 0  # type: ignore[index]
    claim = must_claim(rb)
    rb.reap_expired("q", claim.deadline + 1)
    assert raw.hget(keys.job(job.id), "stalls") == b"1"


def test_purge_removes_the_job_from_every_index(rb: RedisBackend, raw: redis.Redis) -> None:
    done, dead = new_job(), new_job(key="k")
    rb.push_many([done, dead])
    claim = must_claim(rb)
    rb.complete(claim.job_id, claim.token, None)
    claim = must_claim(rb)
    rb.fail(claim.job_id, claim.token, {"type": "E"})
    raw.hset(keys.IDEMPOTENCY, "k", dead.id)  # a key still mapped to it must go too
    raw.hset(keys.IDEMPOTENCY, "other", "another-job")
    assert rb.purge("q", "failed", keep=0) == 1
    assert rb.purge("q", "completed", keep=0) == 1
    for job_id in (done.id, dead.id):
        assert raw.exists(keys.job(job_id)) == 0
        for index in (keys.ALL_JOBS, keys.queue_jobs("q"), keys.failed("q"), keys.completed("q")):
            assert raw.zscore(index, job_id) is None
    assert raw.hgetall(keys.IDEMPOTENCY) == {b"other": b"another-job"}
    assert raw.get(keys.completed_total("q")) == b"1"


def test_a_key_stays_mapped_to_its_finished_job_until_purge(
    rb: RedisBackend, raw: redis.Redis
) -> None:
    """The key window needs the mapping after the final state; purge keeps the hash from
    growing without bound, and leaves a key a newer job took alone."""
    old, done = new_job(key="a"), new_job(key="b")
    rb.push_many([old, done])
    for _ in range(2):
        claim = must_claim(rb)
        rb.complete(claim.job_id, claim.token, None)
    newer = new_job(key="a")
    rb.push(newer)  # window 0: takes the key from its finished holder
    assert raw.hgetall(keys.IDEMPOTENCY) == {b"a": newer.id.encode(), b"b": done.id.encode()}
    assert rb.purge("q", "completed", keep=0) == 2
    assert raw.hgetall(keys.IDEMPOTENCY) == {b"a": newer.id.encode()}


def test_times_survive_the_scripts_exactly(rb: RedisBackend, raw: redis.Redis) -> None:
    job = new_job()
    rb.push(job)
    claim = must_claim(rb)  # the deadline is set on the server's clock and replied as text
    assert raw.zscore(keys.active("q"), job.id) == claim.deadline
    at = 4102444800.123456  # Lua's tostring would keep 14 digits: 4102444800.1235
    assert rb.reap_expired("q", at, max_stalls=1).stalled == [job.id]
    record = rb.get_job(job.id)
    assert record is not None and record["finished_at"] == at and record["worker"]
    assert isinstance(record["attempts"], int) and isinstance(record["priority"], int)


def test_claim_skips_ids_whose_record_is_gone(rb: RedisBackend, raw: redis.Redis) -> None:
    gone, kept = new_job(), new_job()
    rb.push_many([gone, kept])
    raw.delete(keys.job(gone.id))
    assert must_claim(rb).job_id == kept.id
    assert raw.zcard(keys.waiting("q")) == 0
    assert rb.list_jobs().jobs == [rb.get_job(kept.id)]


# -- scripts and batching --------------------------------------------------------------------
def test_scripts_are_reloaded_after_a_script_flush(rb: RedisBackend, raw: redis.Redis) -> None:
    rb.push(new_job())
    raw.script_flush()
    results = rb.push_many([new_job() for _ in range(5)])
    assert [r.state for r in results] == ["waiting"] * 5
    raw.script_flush()
    assert rb.push(new_job()).state == "waiting"
    raw.script_flush()
    assert rb.claim("q", LEASE, 0) is not None


def test_promote_and_reap_move_more_than_one_batch(
    rb: RedisBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_module, "BATCH", 3)
    now = time.time()
    rb.push_many([new_job(eta=now + 10) for _ in range(10)])
    assert rb.promote_due("q", now + 11) == 10
    claims = [must_claim(rb) for _ in range(10)]
    reaped = rb.reap_expired("q", max(c.deadline for c in claims) + 1)
    assert sorted(reaped.recovered) == sorted(c.job_id for c in claims)
    assert reaped.stalled == []
    assert rb.queue_counts(["q"])["q"]["waiting"] == 10
    claims = [must_claim(rb) for _ in range(10)]
    reaped = rb.reap_expired("q", max(c.deadline for c in claims) + 1, max_stalls=2)
    assert (reaped.recovered, sorted(reaped.stalled)) == ([], sorted(c.job_id for c in claims))


def test_purge_deletes_more_than_one_batch_within_its_limit(
    rb: RedisBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_module, "BATCH", 3)
    rb.push_many([new_job() for _ in range(10)])
    for _ in range(10):
        claim = must_claim(rb)
        rb.fail(claim.job_id, claim.token, {"type": "E"})
    assert rb.purge("q", "failed", keep=0, limit=7) == 7
    assert rb.queue_counts(["q"])["q"]["failed"] == 3
    assert rb.purge("q", "failed", finished_before=time.time() + 1) == 3
    assert rb.queue_counts(["q"])["q"]["failed"] == 0


def test_listing_skips_index_entries_whose_record_is_gone(
    rb: RedisBackend, raw: redis.Redis
) -> None:
    done = [new_job() for _ in range(3)]
    rb.push_many(done)
    raw.delete(keys.job(done[1].id))
    page = rb.list_jobs(state="waiting", limit=2)
    assert [r["id"] for r in page.jobs] == [done[0].id, done[2].id]
    assert rb.list_jobs(state="waiting", cursor=page.next_cursor).jobs == []


# -- Huey's side -------------------------------------------------------------------------------
def test_huey_kv_operations_share_the_connection(rb: RedisBackend) -> None:
    assert (rb.result_key, rb.counter_key) == (keys.HUEY_RESULTS, keys.HUEY_COUNTERS)
    assert (rb.queue_key, rb.schedule_key) == (keys.HUEY_QUEUE, keys.HUEY_SCHEDULE)
    rb.put_data("k", b"v")
    assert rb.peek_data("k") == b"v"
    assert rb.incr("c") == 1 and rb.incr("c", 2) == 3
    with pytest.raises(NotImplementedError, match="use push/claim"):
        rb.enqueue(b"x")
    with pytest.raises(NotImplementedError, match="use push/claim"):
        rb.dequeue()


def test_put_if_empty_with_a_ttl_expires(rb: RedisBackend) -> None:
    assert rb.put_if_empty("cron:job:202601010000", b"1", 0.3) is True
    assert rb.put_if_empty("cron:job:202601010000", b"1", 0.3) is False
    time.sleep(0.4)
    assert rb.put_if_empty("cron:job:202601010000", b"1", 0.3) is True
    assert rb.put_if_empty("lock", b"1") is True
    assert rb.put_if_empty("lock", b"1") is False


@pytest.mark.parametrize("queues", [1, 40])
def test_status_is_one_round_trip_whatever_the_number_of_queues(
    rb: RedisBackend, monkeypatch: pytest.MonkeyPatch, queues: int
) -> None:
    rb.push_many([new_job(f"q{n}") for n in range(queues)])
    rb.alerts.fire("waiting_high", "warning", "q0", "too many", time.time())
    rb.alerts.mark_evaluated(time.time())  # a daemon evaluates: status shows what it stored
    rb.put_worker("w1", {"queue": "q0", "workers": 2}, ttl=30)
    config = Config(queues={"configured": QueueSection()})
    control.status(rb, config)  # loads the script
    sent: list[object] = []
    send = redis.connection.Connection.send_packed_command

    def counting(
        self: redis.connection.Connection, command: object, check_health: bool = True
    ) -> None:
        sent.append(command)  # one call per round trip: a pipeline sends its commands at once
        send(self, command, check_health)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counting)
    snapshot = control.status(rb, config)
    assert len(sent) == 1
    assert len(snapshot["queues"]) == queues + 1
    assert [a["rule"] for a in snapshot["alerts"]] == ["waiting_high"]
    assert [w["id"] for w in snapshot["workers"]] == ["w1"]


@pytest.mark.parametrize("claims", [1, 50])
def test_renewing_a_workers_claims_is_one_round_trip(
    rb: RedisBackend, monkeypatch: pytest.MonkeyPatch, claims: int
) -> None:
    rb.push_many([new_job("renew") for _ in range(claims)])
    held = {
        claim.job_id: claim.token
        for claim in (rb.claim("renew", 10, 0) for _ in range(claims))
        if claim
    }
    rb.renew_many(held, 30)  # loads the script
    sent: list[object] = []
    send = redis.connection.Connection.send_packed_command

    def counting(
        self: redis.connection.Connection, command: object, check_health: bool = True
    ) -> None:
        sent.append(command)
        send(self, command, check_health)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counting)
    assert rb.renew_many(held, 30) == set(held)
    assert len(sent) == 1
