"""The backend contract: every promise of `runtime.backends.base.storage.Backend`, on each backend.

The `backend` fixture runs each test once on a temp SQLite file and once on the suite's
real redis-server. Time-dependent transitions (eta, lease expiry) are driven by passing a
future `now` to promote_due / reap_expired (which otherwise read the backend's clock), so
the tests do not sleep to wait for them.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from typing import Any

import pytest

from runtime.backends import open_backend
from runtime.backends.base import storage as base_storage
from runtime.backends.base.metrics import MetricBucket
from runtime.backends.base.storage import (
    COUNTED_STATES,
    RECORD_KEYS,
    Backend,
    Claim,
    EnqueueResult,
    JobPage,
    NewJob,
    Reaped,
)
from runtime.messages import compose, compose_head, dumps, head_rest, head_with_rest

LEASE = 30.0
ERROR = {"type": "ValueError", "message": "boom", "traceback": "Traceback ...\nValueError: boom"}


def new_job(
    queue: str = "q",
    *,
    priority: int = 0,
    eta: float | None = None,
    key: str | None = None,
    key_window: float = 0.0,
    payload: dict[str, Any] | None = None,
    job: str = "tests.echo",
) -> NewJob:
    """A job whose message is the JSON the runtime would send (the backend treats it as bytes)."""
    body = payload if payload is not None else {"n": uuid.uuid4().hex[:6]}
    data = json.dumps({"job": job, "payload": body}).encode()
    return NewJob(
        id=uuid.uuid4().hex,
        job=job,
        queue=queue,
        data=data,
        payload=body,
        priority=priority,
        eta=eta,
        key=key,
        key_window=key_window,
    )


def must_claim(backend: Backend, queue: str = "q", lease: float = LEASE) -> Claim:
    claim = backend.claim(queue, lease, 0)
    assert claim is not None, f"expected a waiting job on {queue!r}"
    return claim


def record(backend: Backend, job_id: str) -> dict[str, Any]:
    found = backend.get_job(job_id)
    assert found is not None, f"job {job_id} has no record"
    return found


def claim_all(backend: Backend, queue: str = "q") -> list[str]:
    ids = []
    while (claim := backend.claim(queue, LEASE, 0)) is not None:
        ids.append(claim.job_id)
    return ids


# -- push and the record -------------------------------------------------------------------
def test_ping_succeeds(backend: Backend) -> None:
    backend.ping()


def test_push_stores_a_waiting_record_with_every_key(backend: Backend) -> None:
    job = new_job(priority=3, key="k-1", payload={"application_id": "A-17"})
    before = time.time()
    assert backend.push(job) == EnqueueResult(job.id, "waiting", False)
    rec = record(backend, job.id)
    assert tuple(sorted(rec)) == tuple(sorted(RECORD_KEYS))
    assert before - 1 <= rec["enqueued_at"] <= time.time() + 1
    del rec["enqueued_at"]
    assert rec == {
        "id": job.id,
        "job": "tests.echo",
        "queue": "q",
        "state": "waiting",
        "attempts": 0,
        "progress": None,
        "result": None,
        "error": None,
        "priority": 3,
        "payload": {"application_id": "A-17"},
        "key": "k-1",
        "started_at": None,
        "finished_at": None,
        "eta": None,
        "worker": None,
        "stalls": 0,
    }


def test_get_job_of_unknown_id_is_none(backend: Backend) -> None:
    assert backend.get_job("no-such-job") is None


def test_push_with_past_eta_is_waiting(backend: Backend) -> None:
    job = new_job(eta=time.time() - 5)
    assert backend.push(job).state == "waiting"
    assert must_claim(backend).job_id == job.id


# -- claim order and blocking --------------------------------------------------------------
def test_claim_order_is_priority_then_fifo(backend: Backend) -> None:
    jobs = [new_job(priority=p) for p in (0, 5, 0, -1, 5, 0)]
    for job in jobs:
        backend.push(job)
    expected = [jobs[1].id, jobs[4].id, jobs[0].id, jobs[2].id, jobs[5].id, jobs[3].id]
    assert claim_all(backend) == expected


def test_fifo_holds_for_many_pushes_of_one_priority(backend: Backend) -> None:
    ids = [backend.push(new_job()).id for _ in range(30)]
    assert claim_all(backend) == ids


def test_claim_only_takes_from_its_own_queue(backend: Backend) -> None:
    other = new_job(queue="other")
    backend.push(other)
    assert backend.claim("q", LEASE, 0) is None
    assert must_claim(backend, "other").job_id == other.id


def test_claim_makes_the_job_active_with_a_lease(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    before = time.time()
    claim = must_claim(backend, lease=20)
    assert (claim.job_id, claim.data, claim.attempt) == (job.id, job.data, 1)
    assert isinstance(claim.token, str) and claim.token
    assert before + 20 - 1 <= claim.deadline <= time.time() + 20 + 1
    rec = record(backend, job.id)
    assert (rec["state"], rec["attempts"]) == ("active", 1)
    assert before - 1 <= rec["started_at"] <= time.time() + 1
    assert backend.claim("q", LEASE, 0) is None


def test_claim_times_out_with_none_after_about_the_timeout(backend: Backend) -> None:
    start = time.monotonic()
    assert backend.claim("empty", LEASE, 0) is None
    assert time.monotonic() - start < 0.5
    start = time.monotonic()
    assert backend.claim("empty", LEASE, 0.5) is None
    assert 0.4 <= time.monotonic() - start < 1.5


def test_blocking_claim_picks_up_a_job_pushed_while_waiting(backend: Backend) -> None:
    job = new_job()
    pusher = threading.Timer(0.2, backend.push, args=(job,))
    pusher.start()
    try:
        claim = backend.claim("q", LEASE, 1.5)
    finally:
        pusher.join()
    assert claim is not None and claim.job_id == job.id


# -- delayed jobs --------------------------------------------------------------------------
def test_delayed_job_is_claimable_only_after_promote_due(backend: Backend) -> None:
    now = time.time()
    job = new_job(eta=now + 60)
    assert backend.push(job) == EnqueueResult(job.id, "delayed", False)
    assert record(backend, job.id)["eta"] == pytest.approx(now + 60)
    assert backend.claim("q", LEASE, 0) is None
    assert backend.promote_due("q", now) == 0
    assert record(backend, job.id)["state"] == "delayed"
    assert backend.promote_due("other", now + 61) == 0
    assert backend.promote_due("q", now + 61) == 1
    assert record(backend, job.id)["state"] == "waiting"
    assert must_claim(backend).job_id == job.id
    assert backend.promote_due("q", now + 61) == 0


# Jobs a test of the batched periodic paths (promote, reap: at most 1,000 jobs per script
# call or transaction on both backends) makes: 2.5 batches, so the loops cross two edges.
MANY = 2_500


def test_promote_due_moves_more_than_one_batch(backend: Backend) -> None:
    now = time.time()
    backend.push_many([new_job(eta=now + 60 + n / MANY / 10) for n in range(MANY)])
    backend.push(new_job(eta=now + 3600))  # not due: stays
    assert backend.promote_due("q", now + 70) == MANY
    assert backend.queue_counts(["q"])["q"]["waiting"] == MANY
    assert backend.queue_counts(["q"])["q"]["delayed"] == 1


def test_reap_expired_hands_back_more_than_one_batch(backend: Backend) -> None:
    backend.push_many([new_job() for _ in range(MANY)])
    ids = sorted(claim_all(backend))
    reaped = backend.reap_expired("q", time.time() + 2 * LEASE, max_stalls=2)
    assert (sorted(reaped.recovered), reaped.stalled) == (ids, [])
    assert len(claim_all(backend)) == MANY
    reaped = backend.reap_expired("q", time.time() + 2 * LEASE, max_stalls=2)
    assert (reaped.recovered, sorted(reaped.stalled)) == ([], ids)
    assert backend.queue_counts(["q"])["q"]["failed"] == MANY


# -- leases and fencing --------------------------------------------------------------------
def test_expired_lease_is_reaped_and_the_old_token_is_fenced(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    old = must_claim(backend, lease=10)
    assert backend.reap_expired("q", time.time()) == Reaped()
    assert backend.reap_expired("q", old.deadline + 1) == Reaped(recovered=[job.id])
    reaped = record(backend, job.id)
    assert (reaped["state"], reaped["attempts"]) == ("waiting", 1)

    stale = old.job_id, old.token
    assert backend.renew(*stale, LEASE) is False
    assert backend.progress(*stale, 50, "late") is False
    assert backend.complete(*stale, '"late"') is False
    assert backend.retry(*stale, b"{}", time.time(), ERROR) is False
    assert backend.fail(*stale, ERROR) is False
    assert backend.release(*stale) is False
    assert record(backend, job.id) == reaped

    again = must_claim(backend)
    assert (again.job_id, again.attempt) == (job.id, 2)
    assert again.token != old.token
    assert backend.complete(*stale, '"late"') is False
    assert record(backend, job.id)["state"] == "active"
    assert backend.complete(again.job_id, again.token, '"ok"') is True


def test_lease_deadlines_and_expiring_one_lease_for_the_reaper(backend: Backend) -> None:
    running, other, waiting = new_job(), new_job(), new_job()
    for job in (running, other, waiting):
        backend.push(job)
    first, second = must_claim(backend), must_claim(backend)
    ids = [first.job_id, second.job_id, waiting.id, "missing"]
    deadlines = backend.cluster.lease_deadlines("q", ids)
    assert deadlines == pytest.approx(
        {first.job_id: first.deadline, second.job_id: second.deadline}
    )
    assert backend.cluster.lease_deadlines("other-queue", ids) == {}
    assert backend.cluster.expire_lease("q", waiting.id) is False
    assert backend.cluster.expire_lease("other-queue", first.job_id) is False
    assert backend.cluster.expire_lease("q", first.job_id) is True
    assert backend.cluster.lease_deadlines("q", [first.job_id]) == {first.job_id: 0}
    assert backend.reap_expired("q") == Reaped(recovered=[first.job_id])
    assert record(backend, first.job_id)["stalls"] == 1
    assert backend.renew(first.job_id, first.token, LEASE) is False  # fenced
    assert record(backend, second.job_id)["state"] == "active"


def test_renew_extends_the_lease(backend: Backend) -> None:
    backend.push(new_job())
    claim = must_claim(backend, lease=10)
    assert backend.renew(claim.job_id, claim.token, 100) is True
    assert backend.reap_expired("q", claim.deadline + 1) == Reaped()
    assert backend.reap_expired("q", time.time() + 101) == Reaped(recovered=[claim.job_id])


def test_renew_many_extends_every_live_claim_and_names_them(backend: Backend) -> None:
    """One call for all of a worker's claims (issue 9, item 2): the stale token, the
    finished job and the unknown id are left out and keep their state."""
    for _ in range(4):
        backend.push(new_job())
    live, finished, reclaimed, other = (must_claim(backend, lease=10) for _ in range(4))
    assert backend.complete(finished.job_id, finished.token, None)
    claims = {
        live.job_id: live.token,
        finished.job_id: finished.token,
        reclaimed.job_id: "stale-token",
        "nope": "tok",
    }
    assert backend.renew_many(claims, 100) == {live.job_id}
    assert backend.renew_many({}, 100) == set()
    expired = backend.reap_expired("q", time.time() + 50)
    assert sorted(expired.recovered) == sorted([reclaimed.job_id, other.job_id])
    assert record(backend, live.job_id)["state"] == "active"
    assert record(backend, finished.job_id)["state"] == "completed"


def test_operations_on_an_unknown_job_return_false(backend: Backend) -> None:
    assert backend.renew("nope", "tok", LEASE) is False
    assert backend.complete("nope", "tok", None) is False
    assert backend.fail("nope", "tok", ERROR) is False
    assert backend.retry("nope", "tok", b"{}", time.time(), ERROR) is False
    assert backend.release("nope", "tok") is False
    assert backend.progress("nope", "tok", 1, None) is False
    assert backend.get_job("nope") is None


def test_a_wrong_token_changes_nothing(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    claim = must_claim(backend)
    before = record(backend, job.id)
    assert backend.complete(job.id, "not-the-token", '"x"') is False
    assert backend.fail(job.id, "not-the-token", ERROR) is False
    assert record(backend, job.id) == before
    assert backend.complete(job.id, claim.token, None) is True


# -- outcomes ------------------------------------------------------------------------------
def test_progress_then_complete(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    claim = must_claim(backend)
    assert backend.progress(job.id, claim.token, 40, "fetching") is True
    assert record(backend, job.id)["progress"] == {"percent": 40.0, "stage": "fetching"}
    assert backend.progress(job.id, claim.token, 100, None) is True
    before = time.time()
    assert backend.complete(job.id, claim.token, json.dumps({"score": 0.9})) is True
    rec = record(backend, job.id)
    assert (rec["state"], rec["attempts"], rec["result"], rec["error"]) == (
        "completed",
        1,
        {"score": 0.9},
        None,
    )
    assert rec["progress"] == {"percent": 100.0, "stage": None}
    assert before - 1 <= rec["finished_at"] <= time.time() + 1
    assert backend.complete(job.id, claim.token, '"twice"') is False
    assert backend.renew(job.id, claim.token, LEASE) is False
    assert backend.progress(job.id, claim.token, 1, None) is False
    assert record(backend, job.id)["result"] == {"score": 0.9}
    assert backend.claim("q", LEASE, 0) is None


def test_complete_and_claim_acks_and_takes_the_next_job(backend: Backend) -> None:
    first, second = new_job(), new_job(priority=-1)
    backend.push_many([first, second])
    claim = must_claim(backend)
    done, following = backend.complete_and_claim(first.id, claim.token, '"ok"', "q", LEASE)
    assert done is True
    assert following is not None
    assert (following.job_id, following.attempt, following.data) == (second.id, 1, second.data)
    assert record(backend, first.id)["state"] == "completed"
    assert record(backend, second.id)["state"] == "active"
    assert backend.queue_counts(["q"])["q"]["completed"] == 1
    # A stale token acks nothing; an empty queue claims nothing.
    assert backend.complete_and_claim(first.id, claim.token, None, "q", LEASE) == (False, None)
    assert backend.complete(second.id, following.token, None) is True


def test_complete_without_result(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    claim = must_claim(backend)
    assert backend.complete(job.id, claim.token, None) is True
    rec = record(backend, job.id)
    assert (rec["state"], rec["result"]) == ("completed", None)


def test_fail_moves_the_job_to_the_dead_letter_set(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    claim = must_claim(backend)
    before = time.time()
    assert backend.fail(job.id, claim.token, ERROR) is True
    rec = record(backend, job.id)
    assert (rec["state"], rec["attempts"], rec["error"], rec["result"]) == (
        "failed",
        1,
        ERROR,
        None,
    )
    assert before - 1 <= rec["finished_at"] <= time.time() + 1
    assert backend.fail(job.id, claim.token, ERROR) is False
    assert backend.complete(job.id, claim.token, None) is False
    assert backend.claim("q", LEASE, 0) is None
    assert [r["id"] for r in backend.list_jobs(state="failed").jobs] == [job.id]


def test_retry_then_promote_then_claim_with_the_new_message(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    first = must_claim(backend)
    eta = time.time() + 30
    new_data = b'{"job": "tests.echo", "payload": {}, "retries_left": 2}'
    assert backend.retry(job.id, first.token, new_data, eta, ERROR) is True
    rec = record(backend, job.id)
    assert (rec["state"], rec["attempts"], rec["error"]) == ("retrying", 1, ERROR)
    assert rec["eta"] == pytest.approx(eta)
    assert backend.claim("q", LEASE, 0) is None
    assert backend.complete(job.id, first.token, None) is False
    assert backend.promote_due("q", eta - 1) == 0
    assert backend.promote_due("q", eta + 1) == 1
    assert record(backend, job.id)["state"] == "waiting"
    second = must_claim(backend)
    assert (second.job_id, second.data, second.attempt) == (job.id, new_data, 2)
    assert record(backend, job.id)["attempts"] == 2


def test_release_returns_the_job_to_waiting_keeping_attempts(backend: Backend) -> None:
    low, high = new_job(priority=0), new_job(priority=9)
    backend.push(low)
    backend.push(high)
    claim = must_claim(backend)
    assert claim.job_id == high.id
    assert backend.release(high.id, claim.token) is True
    rec = record(backend, high.id)
    assert (rec["state"], rec["attempts"]) == ("waiting", 1)
    assert backend.release(high.id, claim.token) is False
    assert backend.complete(high.id, claim.token, None) is False
    again = must_claim(backend)  # its priority is kept: still ahead of `low`
    assert (again.job_id, again.attempt) == (high.id, 2)


# -- idempotency keys and poison messages --------------------------------------------------
def test_idempotency_key_dedups_while_pending_and_frees_after_final(backend: Backend) -> None:
    first = new_job(key="order-7")
    assert backend.push(first) == EnqueueResult(first.id, "waiting", False)
    dup = new_job(key="order-7")
    assert backend.push(dup) == EnqueueResult(first.id, "waiting", True)
    assert backend.get_job(dup.id) is None

    claim = must_claim(backend)
    assert backend.push(new_job(key="order-7")) == EnqueueResult(first.id, "active", True)
    assert backend.complete(first.id, claim.token, None) is True

    after = new_job(key="order-7")
    assert backend.push(after) == EnqueueResult(after.id, "waiting", False)
    assert record(backend, after.id)["key"] == "order-7"
    assert backend.push(new_job(key="other")).deduplicated is False


def test_idempotency_key_dedups_delayed_and_frees_after_failure(backend: Backend) -> None:
    delayed = new_job(key="k", eta=time.time() + 60)
    backend.push(delayed)
    assert backend.push(new_job(key="k")) == EnqueueResult(delayed.id, "delayed", True)
    backend.promote_due("q", time.time() + 61)
    claim = must_claim(backend)
    assert backend.fail(delayed.id, claim.token, ERROR) is True
    again = new_job(key="k")
    assert backend.push(again) == EnqueueResult(again.id, "waiting", False)


def completed_job(backend: Backend, key: str) -> NewJob:
    job = new_job(key=key)
    backend.push(job)
    claim = must_claim(backend)
    assert backend.complete(job.id, claim.token, None) is True
    return job


def test_key_window_dedups_to_a_job_that_finished_within_it(backend: Backend) -> None:
    done = completed_job(backend, "k")
    deduplicated = EnqueueResult(done.id, "completed", True)
    assert backend.push(new_job(key="k", key_window=60)) == deduplicated
    assert backend.push_many([new_job(key="k", key_window=60)]) == [deduplicated]
    assert backend.list_jobs().jobs == [record(backend, done.id)]  # nothing was stored
    # The window is the pushing job's: without one, the finished job's key is free.
    fresh = new_job(key="k")
    assert backend.push(fresh) == EnqueueResult(fresh.id, "waiting", False)
    assert backend.push(new_job(key="k", key_window=60)) == EnqueueResult(fresh.id, "waiting", True)


def test_key_window_lets_the_key_go_once_it_has_passed(backend: Backend) -> None:
    done = completed_job(backend, "k")
    assert backend.push(new_job(key="k", key_window=0.3)).id == done.id
    time.sleep(0.4)
    later = new_job(key="k", key_window=0.3)
    assert backend.push(later) == EnqueueResult(later.id, "waiting", False)
    assert backend.push(new_job(key="k", key_window=0.3)) == EnqueueResult(
        later.id, "waiting", True
    )


def test_key_window_holds_for_a_failed_job_too(backend: Backend) -> None:
    delayed = new_job(key="k", eta=time.time() + 60)
    backend.push(delayed)
    backend.promote_due("q", time.time() + 61)
    claim = must_claim(backend)
    assert backend.fail(delayed.id, claim.token, ERROR) is True
    batch = [new_job(key="k", key_window=60), new_job(key="k", key_window=60)]
    assert backend.push_many(batch) == [EnqueueResult(delayed.id, "failed", True)] * 2


def test_purging_the_holder_frees_its_key_within_the_window(backend: Backend) -> None:
    done = completed_job(backend, "k")
    assert backend.purge("q", "completed", keep=0) == 1
    again = new_job(key="k", key_window=60)
    assert backend.push(again) == EnqueueResult(again.id, "waiting", False)
    assert done.id != again.id


def test_key_window_follows_the_job_that_took_the_key_last(backend: Backend) -> None:
    """A requeued job takes its key back from a finished job pushed after it (a higher
    push sequence number): it is the holder, pending and then finished."""
    dead = failed_job(backend, key="k")
    done = completed_job(backend, "k")  # took the free key after `dead` failed
    assert backend.requeue(dead.id) is True
    assert record(backend, dead.id)["key"] == "k"
    assert backend.push(new_job(key="k")) == EnqueueResult(dead.id, "waiting", True)
    claim = must_claim(backend)
    assert backend.complete(dead.id, claim.token, None) is True
    assert record(backend, dead.id)["finished_at"] > record(backend, done.id)["finished_at"]
    assert backend.push(new_job(key="k", key_window=60)) == EnqueueResult(
        dead.id, "completed", True
    )


def test_bury_creates_a_failed_record_with_the_reason(backend: Backend) -> None:
    before = time.time()
    job_id = backend.bury("q", b"\xff not json", "message is not valid JSON")
    rec = record(backend, job_id)
    assert (rec["id"], rec["queue"], rec["state"], rec["job"]) == (job_id, "q", "failed", "?")
    assert rec["error"] == {
        "type": "PoisonMessage",
        "message": "message is not valid JSON",
        "traceback": None,
    }
    assert before - 1 <= rec["finished_at"] <= time.time() + 1
    assert backend.claim("q", LEASE, 0) is None
    assert backend.queue_counts(["q"])["q"]["failed"] == 1
    assert backend.known_queues() == ["q"]


def test_bury_names_the_job_when_the_message_decodes(backend: Backend) -> None:
    data = json.dumps({"job": "ghost.job", "payload": {}}).encode()
    job_id = backend.bury("q", data, "unknown job ghost.job")
    rec = record(backend, job_id)
    assert (rec["job"], rec["state"]) == ("ghost.job", "failed")
    assert rec["error"]["message"] == "unknown job ghost.job"


# -- stalls: leases that keep expiring ------------------------------------------------------
STALLED = "lease expired {} times: the job's worker keeps dying or hanging"


def stall(backend: Backend, job_id: str, now: float | None = None, max_stalls: int = 3) -> Reaped:
    """Claim `job_id` (the next waiting job of "q") and let its lease expire."""
    claim = must_claim(backend)
    assert claim.job_id == job_id
    return backend.reap_expired("q", now or claim.deadline + 1, max_stalls)


def test_reap_counts_stalls_and_dead_letters_the_job_at_the_third(backend: Backend) -> None:
    job = new_job(key="report-9")
    backend.push(job)
    for stalls in (1, 2):
        assert stall(backend, job.id) == Reaped(recovered=[job.id])
        rec = record(backend, job.id)
        assert (rec["state"], rec["stalls"], rec["attempts"]) == ("waiting", stalls, stalls)
        assert (rec["error"], rec["finished_at"]) == (None, None)
        assert backend.push(new_job(key="report-9")).deduplicated is True

    last = must_claim(backend)
    now = last.deadline + 1.5
    assert backend.reap_expired("q", now) == Reaped(stalled=[job.id])
    rec = record(backend, job.id)
    assert (rec["state"], rec["stalls"], rec["attempts"]) == ("failed", 3, 3)
    assert rec["error"] == {"type": "Stalled", "message": STALLED.format(3), "traceback": None}
    assert rec["finished_at"] == now
    assert backend.complete(job.id, last.token, None) is False  # the lost worker is fenced
    assert record(backend, job.id) == rec
    assert [r["id"] for r in backend.list_jobs(state="failed").jobs] == [job.id]
    assert backend.queue_counts(["q"])["q"] == {
        "waiting": 0,
        "delayed": 0,
        "active": 0,
        "failed": 1,
        "completed": 0,
    }
    assert backend.claim("q", LEASE, 0) is None
    assert backend.reap_expired("q", now + 100) == Reaped()
    again = new_job(key="report-9")  # a final job frees its key
    assert backend.push(again) == EnqueueResult(again.id, "waiting", False)


def test_reap_returns_recovered_and_stalled_ids_apart(backend: Backend) -> None:
    twice, once, fresh, renewed = new_job(), new_job(), new_job(), new_job()
    elsewhere = new_job("other")
    backend.push(twice)
    stall(backend, twice.id)
    backend.push_many([once, fresh, renewed, elsewhere])
    claims = [must_claim(backend) for _ in range(4)]
    # The reaped job went back to its old place in line, ahead of the later pushes.
    assert [c.job_id for c in claims] == [twice.id, once.id, fresh.id, renewed.id]
    assert backend.renew(renewed.id, claims[3].token, 1000) is True
    must_claim(backend, "other", lease=1)

    reaped = backend.reap_expired("q", claims[2].deadline + 1, max_stalls=2)
    assert reaped.stalled == [twice.id]
    assert sorted(reaped.recovered) == sorted([once.id, fresh.id])
    states = {j.id: record(backend, j.id)["state"] for j in (twice, once, fresh, renewed)}
    assert states == {
        twice.id: "failed",
        once.id: "waiting",
        fresh.id: "waiting",
        renewed.id: "active",
    }
    assert record(backend, twice.id)["error"]["message"] == STALLED.format(2)
    assert record(backend, once.id)["stalls"] == 1
    assert record(backend, elsewhere.id)["state"] == "active"  # other queues are left alone


def test_a_stalled_jobs_old_token_is_fenced(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    claim = must_claim(backend)
    assert backend.reap_expired("q", claim.deadline + 1, max_stalls=1) == Reaped(stalled=[job.id])
    stale = job.id, claim.token
    assert backend.renew(*stale, LEASE) is False
    assert backend.progress(*stale, 1, None) is False
    assert backend.fail(*stale, ERROR) is False
    assert backend.retry(*stale, b"{}", time.time(), ERROR) is False
    assert backend.release(*stale) is False
    assert record(backend, job.id)["error"]["type"] == "Stalled"


# -- requeue: dead jobs back to work --------------------------------------------------------
def failed_job(backend: Backend, **options: Any) -> NewJob:
    """A job that ran once, reported progress and failed."""
    job = new_job(**options)
    backend.push(job)
    claim = must_claim(backend)
    assert backend.progress(job.id, claim.token, 30, "half-way")
    assert backend.fail(job.id, claim.token, ERROR)
    return job


def test_requeue_puts_a_failed_job_back_with_its_slate_cleared(backend: Backend) -> None:
    job = failed_job(backend, key="k")
    failed = record(backend, job.id)
    later = new_job()
    backend.push(later)
    assert backend.requeue(job.id) is True
    rec = record(backend, job.id)
    cleared = {"state": "waiting", "error": None, "finished_at": None, "progress": None}
    assert rec == {**failed, **cleared, "stalls": 0}
    assert rec["attempts"] == 1
    assert backend.list_jobs(state="failed").jobs == []
    assert backend.queue_counts(["q"])["q"]["failed"] == 0
    assert backend.queue_counts(["q"])["q"]["waiting"] == 2
    assert backend.push(new_job(key="k")) == EnqueueResult(job.id, "waiting", True)
    claim = must_claim(backend)  # at its push-order place, ahead of the later job
    assert (claim.job_id, claim.attempt, claim.data) == (job.id, 2, job.data)
    assert backend.requeue(job.id) is False  # active now


def test_requeue_with_new_data_is_claimed_with_that_data(backend: Backend) -> None:
    job = failed_job(backend)
    fresh = b'{"job": "tests.echo", "payload": {}, "retries_left": 3}'
    assert backend.requeue(job.id, fresh) is True
    claim = must_claim(backend)
    assert (claim.job_id, claim.data) == (job.id, fresh)


def test_requeue_of_a_stalled_job_resets_its_stall_count(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    assert stall(backend, job.id, max_stalls=1) == Reaped(stalled=[job.id])
    assert backend.requeue(job.id) is True
    rec = record(backend, job.id)
    assert (rec["state"], rec["stalls"], rec["error"], rec["attempts"]) == ("waiting", 0, None, 1)
    assert stall(backend, job.id, max_stalls=2) == Reaped(recovered=[job.id])
    assert record(backend, job.id)["stalls"] == 1


def test_requeue_wakes_a_blocked_claimer(backend: Backend) -> None:
    job = failed_job(backend)
    requeuer = threading.Timer(0.2, backend.requeue, args=(job.id,))
    requeuer.start()
    start = time.monotonic()
    try:
        claim = backend.claim("q", LEASE, 5)
    finally:
        requeuer.join()
    assert claim is not None and claim.job_id == job.id
    assert time.monotonic() - start < 1.5  # woken (Redis: a marker), not at the time-out


def test_requeue_refuses_jobs_that_are_not_dead(backend: Backend) -> None:
    ids = make_every_state(backend, "q")
    refused = ("waiting1", "delayed", "active", "retrying", "done1")
    before = {name: record(backend, ids[name]) for name in refused}
    counts = backend.queue_counts(["q"])
    for name in refused:
        assert backend.requeue(ids[name], b"{}") is False, name
    assert {name: record(backend, ids[name]) for name in refused} == before
    assert backend.queue_counts(["q"]) == counts
    assert backend.requeue("no-such-job") is False
    assert backend.get_job("no-such-job") is None


def test_requeue_does_not_steal_a_key_another_pending_job_holds(backend: Backend) -> None:
    dead = failed_job(backend, key="k")
    holder = new_job(key="k")
    assert backend.push(holder).deduplicated is False
    assert backend.requeue(dead.id) is True
    assert record(backend, dead.id)["state"] == "waiting"
    assert record(backend, dead.id)["key"] is None  # it no longer holds a key
    assert backend.push(new_job(key="k")) == EnqueueResult(holder.id, "waiting", True)
    for _ in range(2):  # the holder finishing frees the key; the requeued job never had it
        claim = must_claim(backend)
        assert backend.complete(claim.job_id, claim.token, None)
    assert backend.push(new_job(key="k")).deduplicated is False


def composed_job(payload: dict[str, Any], job: str = "tests.echo", priority: int = 0) -> NewJob:
    """A job whose message is compose's (the producer's), with a spent retry count."""
    job_id = uuid.uuid4().hex
    data = compose(job_id, job, dumps(payload), {"priority": priority, "retries": 0})
    return NewJob(id=job_id, job=job, queue="q", data=data, payload=payload, priority=priority)


class Heads:
    """FreshHeads for the contract tests: `tests.echo` gets 7 retries, other jobs keep
    their messages."""

    jobs = frozenset({"tests.echo"})

    def __init__(self) -> None:
        self.rests: dict[tuple[str, int], bytes] = {}

    def rest(self, job: str, priority: int) -> bytes:
        options = {"priority": priority, "retries": 7}
        return self.rests.setdefault((job, priority), head_rest(job, options))

    def known(self) -> dict[tuple[str, int], bytes]:
        return self.rests

    def head(self, job_id: str, job: str, priority: int) -> bytes | None:
        return head_with_rest(job_id, self.rest(job, priority)) if job in self.jobs else None


def fail_all(backend: Backend, jobs: list[NewJob]) -> None:
    for job in jobs:
        backend.push(job)
        claim = must_claim(backend)
        assert claim.job_id == job.id and backend.fail(job.id, claim.token, ERROR)


def test_requeue_failed_retries_a_chunk_with_fresh_heads(backend: Backend) -> None:
    """Twelve dead jobs of two names and three priorities, oldest first, 5 at a time: a
    chunk steps over the other name's jobs, and each priority's head is learnt on the way."""
    jobs = [
        composed_job({"n": n}, "tests.other" if n % 4 == 0 else "tests.echo", n % 3)
        for n in range(12)
    ]
    fail_all(backend, jobs)
    until = backend.now()
    time.sleep(0.01)
    fail_all(backend, [late := composed_job({"late": True})])  # after `until`: not looked at
    heads, chunks, offset = Heads(), [], 0
    while (chunk := backend.requeue_failed("q", until, offset, 5, "tests.echo", heads))[0]:
        chunks.append(chunk)
        offset += chunk[0] - chunk[1]
    assert chunks == [(5, 3), (5, 4), (2, 2)]
    assert sorted(heads.known()) == [("tests.echo", p) for p in range(3)]
    echo = [job for job in jobs if job.job == "tests.echo"]
    claims = {claim.job_id: claim.data for claim in (must_claim(backend) for _ in echo)}
    for job in echo:
        options = {"priority": job.priority, "retries": 7}
        assert claims[job.id] == compose(job.id, job.job, dumps(job.payload), options)
    assert backend.requeue_failed("q", until, 0, 5, None, heads) == (3, 3)  # the other name
    others = {claim.job_id: claim.data for claim in (must_claim(backend) for _ in range(3))}
    assert others == {job.id: job.data for job in jobs if job.job == "tests.other"}
    assert record(backend, late.id)["state"] == "failed"
    assert backend.requeue_failed("q", until, 0, 5, None, heads) == (0, 0)


def test_requeue_many_gives_each_message_its_new_head_and_keeps_its_payload(
    backend: Backend,
) -> None:
    dead = [
        composed_job({"n": n, "text": 'é "quoted"', "payload": ',"payload":'}) for n in range(3)
    ]
    for job in dead:
        backend.push(job)
        claim = must_claim(backend)
        assert backend.fail(job.id, claim.token, ERROR)
    other_shape, kept = failed_job(backend), failed_job(backend)  # not compose's messages
    waiting = new_job()
    backend.push(waiting)
    options = {"priority": 0, "retries": 3}
    heads = {job.id: compose_head(job.id, job.job, options) for job in dead}
    heads[other_shape.id] = compose_head(other_shape.id, "tests.echo", options)
    before = record(backend, waiting.id)
    changed = {**heads, kept.id: None, waiting.id: heads[dead[0].id], "nope": b"{"}
    assert backend.requeue_many(changed) == 5
    assert record(backend, waiting.id) == before  # not dead: unchanged
    assert backend.list_jobs(state="failed").jobs == []
    claims = {claim.job_id: claim.data for claim in (must_claim(backend) for _ in range(5))}
    for job in dead:  # the whole message, as compose builds it with the new options
        assert claims[job.id] == compose(job.id, job.job, dumps(job.payload), options)
        assert record(backend, job.id)["payload"] == job.payload
    assert claims[other_shape.id] == other_shape.data
    assert claims[kept.id] == kept.data
    assert backend.requeue_many({}) == 0


def test_delete_many_deletes_only_the_state_asked_for(backend: Backend) -> None:
    ids = make_every_state(backend, "q")
    assert backend.delete_many(list(ids.values()), state="failed") == 1
    assert backend.get_job(ids["failed"]) is None
    assert backend.delete_many([ids["active"], ids["waiting1"], ids["done1"], "nope"]) == 2
    assert {name for name, i in ids.items() if backend.get_job(i)} == {
        "active", "done2", "retrying", "waiting2", "delayed",
    }  # fmt: skip
    assert backend.delete_many([]) == 0


def test_finished_slice_walks_a_final_state_oldest_first_up_to_a_time(backend: Backend) -> None:
    ids = dead_jobs(backend, [LATER + i for i in (3, 1, 2)])  # finished out of push order
    ids = [ids[1], ids[2], ids[0]]  # by finish time
    backend.push(other_job := new_job(job="tests.other", priority=4))
    must_claim(backend)
    assert backend.reap_expired("q", LATER + 10, max_stalls=1).stalled == [other_job.id]
    other = other_job.id
    rows = backend.finished_slice("q", "failed", LATER + 2.5, 0, 10)
    assert rows == [(i, "tests.echo", 0) for i in ids[:2]]
    assert backend.finished_slice("q", "failed", LATER + 2.5, 1, 1) == [(ids[1], "tests.echo", 0)]
    assert backend.finished_slice("q", "failed", LATER + 2.5, 2, 10) == []
    assert backend.finished_slice("q", "failed", LATER + 3, 2, 10) == [(ids[2], "tests.echo", 0)]
    assert backend.finished_slice("q", "failed", LATER + 10, 3, 10) == [(other, "tests.other", 4)]
    assert backend.finished_slice("q", "completed", LATER, 0, 10) == []
    assert backend.finished_slice("elsewhere", "failed", LATER, 0, 10) == []


# -- purge: retention of finished jobs ------------------------------------------------------
def dead_jobs(backend: Backend, finished: list[float], queue: str = "q") -> list[str]:
    """Jobs dead-lettered (stalled) at the given finish times, in that order."""
    ids = []
    for at in finished:
        job = new_job(queue)
        backend.push(job)
        must_claim(backend, queue)
        assert backend.reap_expired(queue, at, max_stalls=1) == Reaped(stalled=[job.id])
        ids.append(job.id)
    return ids


def completed_jobs(backend: Backend, count: int, queue: str = "q") -> list[str]:
    ids = []
    for _ in range(count):
        job = new_job(queue)
        backend.push(job)
        claim = must_claim(backend, queue)
        assert backend.complete(job.id, claim.token, None)
        ids.append(job.id)
    return ids


def listed(backend: Backend, **filters: Any) -> list[str]:
    return ids_of(backend.list_jobs(limit=1000, **filters))


LATER = time.time() + 10_000  # beyond every lease a test takes: reaps then always expire


def test_purge_by_age_deletes_only_jobs_finished_before(backend: Backend) -> None:
    done = completed_jobs(backend, 4)
    cutoff = record(backend, done[2])["finished_at"]
    assert backend.purge("q", "completed", finished_before=cutoff) == 2
    assert [backend.get_job(i) for i in done[:2]] == [None, None]
    assert listed(backend, state="completed") == [done[3], done[2]]
    assert listed(backend, queue="q") == [done[3], done[2]]
    assert listed(backend) == [done[3], done[2]]
    assert backend.queue_counts(["q"])["q"]["completed"] == 4  # a total: it never shrinks
    assert backend.purge("q", "completed", finished_before=cutoff) == 0


def test_purge_by_keep_deletes_all_but_the_newest(backend: Backend) -> None:
    dead = dead_jobs(backend, [LATER + i for i in (5, 1, 4, 2, 3)])  # finished out of order
    by_finish = [dead[1], dead[3], dead[4], dead[2], dead[0]]
    assert backend.purge("q", "failed", keep=2) == 3
    assert [i for i in dead if backend.get_job(i)] == [dead[0], dead[2]]
    assert listed(backend, state="failed") == [dead[0], dead[2]]  # last finished first
    assert backend.queue_counts(["q"])["q"]["failed"] == 2
    assert backend.purge("q", "failed", keep=2) == 0
    assert backend.purge("q", "failed", keep=0) == 2
    assert [backend.get_job(i) for i in by_finish] == [None] * 5
    assert backend.queue_counts(["q"])["q"]["failed"] == 0


def test_purge_by_age_and_keep_deletes_what_either_selects(backend: Backend) -> None:
    dead = dead_jobs(backend, [LATER + i for i in range(6)])
    assert backend.purge("q", "failed", finished_before=LATER + 2, keep=5) == 2
    assert listed(backend, state="failed") == dead[:1:-1]
    assert backend.purge("q", "failed", finished_before=LATER + 1, keep=2) == 2
    assert listed(backend, state="failed") == [dead[5], dead[4]]
    assert backend.purge("q", "failed", finished_before=LATER + 4.5, keep=3) == 1
    assert listed(backend, state="failed") == [dead[5]]
    assert backend.purge("q", "failed") == 0  # no bound given: nothing selected


def test_purge_respects_the_limit_oldest_first(backend: Backend) -> None:
    dead = dead_jobs(backend, [LATER + i for i in range(5)])
    assert backend.purge("q", "failed", keep=0, limit=2) == 2
    assert listed(backend, state="failed") == dead[:1:-1]
    assert backend.purge("q", "failed", finished_before=LATER + 10, limit=2) == 2
    assert listed(backend, state="failed") == [dead[4]]
    assert backend.purge("q", "failed", keep=0, limit=0) == 0
    assert backend.purge("q", "failed", keep=0, limit=2) == 1
    assert backend.queue_counts(["q"])["q"]["failed"] == 0


def test_purge_leaves_other_queues_and_states_alone(backend: Backend) -> None:
    ids = make_every_state(backend, "q")
    other_dead = dead_jobs(backend, [LATER], queue="other")
    other_done = completed_jobs(backend, 1, queue="other")
    everything = listed(backend)
    counts = backend.queue_counts(["q", "other"])
    assert backend.purge("q", "failed", keep=0) == 1
    assert backend.get_job(ids["failed"]) is None
    assert listed(backend) == [i for i in everything if i != ids["failed"]]
    assert backend.queue_counts(["q", "other"]) == {
        "q": {**counts["q"], "failed": 0},
        "other": counts["other"],
    }
    assert backend.purge("q", "canceled", keep=0) == 0
    assert backend.purge("q", "completed", keep=0) == 2
    assert listed(backend, queue="q", state="completed") == []
    assert listed(backend, queue="other") == [other_done[0], other_dead[0]]
    assert backend.queue_counts(["q"])["q"]["completed"] == 2


def test_purge_frees_the_key_of_a_deleted_job(backend: Backend) -> None:
    dead = failed_job(backend, key="k")
    assert backend.purge("q", "failed", keep=0) == 1
    assert backend.get_job(dead.id) is None
    again = new_job(key="k")
    assert backend.push(again) == EnqueueResult(again.id, "waiting", False)


@pytest.mark.parametrize("state", ["waiting", "delayed", "active", "retrying", "bogus"])
def test_purge_takes_only_final_states(backend: Backend, state: str) -> None:
    backend.push(new_job())
    with pytest.raises(ValueError, match="final state"):
        backend.purge("q", state, keep=0)
    assert backend.queue_counts(["q"])["q"]["waiting"] == 1


# -- reading -------------------------------------------------------------------------------
def make_every_state(backend: Backend, queue: str) -> dict[str, str]:
    """Two waiting, a delayed, a retrying, an active, a failed and two completed jobs."""
    ids = {}
    for name in ("done1", "done2", "active", "failed", "retrying"):
        job = new_job(queue)
        backend.push(job)
        ids[name] = job.id
        claim = must_claim(backend, queue)
        if name.startswith("done"):
            assert backend.complete(job.id, claim.token, None)
        elif name == "failed":
            assert backend.fail(job.id, claim.token, ERROR)
        elif name == "retrying":
            assert backend.retry(job.id, claim.token, job.data, time.time() + 60, ERROR)
    for name, eta in (("waiting1", None), ("waiting2", None), ("delayed", time.time() + 60)):
        job = new_job(queue, eta=eta)
        backend.push(job)
        ids[name] = job.id
    return ids


def test_queue_counts_counts_every_state(backend: Backend) -> None:
    make_every_state(backend, "a")
    backend.push(new_job("b"))
    counts = backend.queue_counts(["a", "b", "never-used"])
    assert counts == {
        "a": {"waiting": 2, "delayed": 2, "active": 1, "failed": 1, "completed": 2},
        "b": {"waiting": 1, "delayed": 0, "active": 0, "failed": 0, "completed": 0},
        "never-used": dict.fromkeys(COUNTED_STATES, 0),
    }
    assert backend.queue_counts([]) == {}


def test_completed_count_is_a_total_not_the_current_rows(backend: Backend) -> None:
    for _ in range(3):
        backend.push(new_job())
        claim = must_claim(backend)
        backend.complete(claim.job_id, claim.token, None)
    assert backend.queue_counts(["q"])["q"]["completed"] == 3


def ids_of(page: JobPage) -> list[str]:
    return [r["id"] for r in page.jobs]


def test_list_jobs_newest_first_with_filters_and_limit(backend: Backend) -> None:
    ids = make_every_state(backend, "a")
    other = new_job("b")
    backend.push(other)
    newest_first_a = [
        ids[n]
        for n in (
            "delayed",
            "waiting2",
            "waiting1",
            "retrying",
            "failed",
            "active",
            "done2",
            "done1",
        )
    ]
    assert ids_of(backend.list_jobs()) == [other.id, *newest_first_a]
    assert ids_of(backend.list_jobs(queue="a")) == newest_first_a
    assert ids_of(backend.list_jobs(queue="a", limit=3)) == newest_first_a[:3]
    assert backend.list_jobs(queue="b", state="failed") == JobPage([], None)
    assert backend.list_jobs(queue="nope") == JobPage([], None)
    for rec in backend.list_jobs().jobs:
        assert tuple(sorted(rec)) == tuple(sorted(RECORD_KEYS))
        assert rec == backend.get_job(rec["id"])


def test_list_jobs_by_state_follows_each_state_index(backend: Backend) -> None:
    ids = make_every_state(backend, "a")
    low, high = new_job("a", priority=-1), new_job("a", priority=5)
    backend.push_many([low, high])
    backend.push(other := new_job("b"))
    # Waiting: the next to be claimed first, queue after queue by name.
    expected = [high.id, ids["waiting1"], ids["waiting2"], low.id, other.id]
    assert ids_of(backend.list_jobs(state="waiting")) == expected
    assert ids_of(backend.list_jobs(state="completed")) == [ids["done2"], ids["done1"]]
    assert ids_of(backend.list_jobs(state="delayed")) == [ids["delayed"]]
    assert ids_of(backend.list_jobs(state="retrying")) == [ids["retrying"]]
    assert ids_of(backend.list_jobs(queue="a", state="active")) == [ids["active"]]
    assert ids_of(backend.list_jobs(queue="a", state="failed")) == [ids["failed"]]
    assert backend.list_jobs(state="canceled") == JobPage([], None)


@pytest.mark.parametrize("state", [None, "waiting", "completed"])
def test_list_jobs_pages_by_cursor_without_gaps_or_repeats(
    backend: Backend, state: str | None
) -> None:
    for queue in ("a", "b"):
        if state == "completed":
            completed_jobs(backend, 7, queue)
        else:
            backend.push_many([new_job(queue) for _ in range(7)])
    everything = ids_of(backend.list_jobs(state=state, limit=100))
    assert len(everything) == 14
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = backend.list_jobs(state=state, limit=4, cursor=cursor)
        seen += ids_of(page)
        if (cursor := page.next_cursor) is None:
            break
    assert seen == everything


def test_list_jobs_filters_by_job_name_across_pages(backend: Backend) -> None:
    jobs = [new_job(job="tests.a" if n % 3 == 0 else "tests.b") for n in range(12)]
    backend.push_many(jobs)
    wanted = [j.id for j in reversed(jobs) if j.job == "tests.a"]
    first = backend.list_jobs(job="tests.a", limit=3)
    assert ids_of(first) == wanted[:3] and first.next_cursor is not None
    rest = backend.list_jobs(job="tests.a", limit=3, cursor=first.next_cursor)
    assert ids_of(rest) == wanted[3:]
    waiting = backend.list_jobs(state="waiting", job="tests.a", limit=100)
    assert ids_of(waiting) == list(reversed(wanted)) and waiting.next_cursor is None


@pytest.mark.parametrize("state", [None, "waiting"])
def test_a_job_filter_past_its_budget_hands_a_cursor_on(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, state: str | None
) -> None:
    monkeypatch.setattr(base_storage, "SCAN_BUDGET", 10)
    rare = new_job(job="tests.rare")
    common = [new_job(job="tests.common") for _ in range(30)]
    # Both orders put the rare job last: newest first, and waiting (push order).
    backend.push_many([rare, *common] if state is None else [*common, rare])
    cursor, pages, found = None, 0, []
    while pages < 10:
        page = backend.list_jobs(state=state, job="tests.rare", limit=1, cursor=cursor)
        pages += 1
        found += ids_of(page)
        if found or (cursor := page.next_cursor) is None:
            break
    assert found == [rare.id]
    assert pages > 1  # the first pages ran out of budget before reaching it


def test_list_jobs_with_a_match_walks_its_budget_and_says_how_far(backend: Backend) -> None:
    jobs = [new_job(payload={"n": n}) for n in range(30)]
    backend.push_many(jobs)
    wanted = {j.id for j in jobs if j.payload["n"] % 7 == 0}  # type: ignore[index]

    def match(record: dict[str, Any]) -> bool:
        return int(record["payload"]["n"]) % 7 == 0

    cursor, found, examined = None, [], 0
    while True:
        page = backend.list_jobs(state="waiting", limit=50, cursor=cursor, match=match, budget=10)
        found += ids_of(page)
        examined += page.examined
        assert page.examined <= 10
        if (cursor := page.next_cursor) is None:
            break
    assert set(found) == wanted and examined == 30
    full = backend.list_jobs(state="waiting", limit=2, match=match, budget=100)
    assert ids_of(full) == [jobs[0].id, jobs[7].id] and full.examined == 8


def test_ids_with_prefix_finds_jobs_in_any_state(backend: Backend) -> None:
    jobs = [new_job() for _ in range(5)]
    backend.push_many(jobs)
    claim = backend.claim("q", LEASE, timeout=1)
    assert claim is not None
    target = jobs[3].id
    assert backend.ids_with_prefix(target[:12], 10) == [target]
    assert backend.ids_with_prefix(claim.job_id, 10) == [claim.job_id]  # active too
    assert sorted(backend.ids_with_prefix("", 10)) == sorted(j.id for j in jobs)
    assert len(backend.ids_with_prefix("", 2)) == 2
    assert backend.ids_with_prefix("zz-none", 10) == []


@pytest.mark.parametrize("cursor", ["x", "-1", ":a", "3"])
def test_list_jobs_refuses_a_cursor_it_did_not_hand_out(backend: Backend, cursor: str) -> None:
    backend.push(new_job())
    with pytest.raises(ValueError):
        backend.list_jobs(state="waiting", cursor=cursor)


def test_delete_removes_a_job_that_is_not_running(backend: Backend) -> None:
    ids = make_every_state(backend, "q")
    for name in ("waiting1", "delayed", "retrying", "failed", "done1"):
        assert backend.delete(ids[name])
        assert backend.get_job(ids[name]) is None
    assert not backend.delete(ids["active"])
    assert not backend.delete("no-such-job")
    counts = backend.queue_counts(["q"])["q"]
    assert counts == {"waiting": 1, "delayed": 0, "active": 1, "failed": 0, "completed": 2}
    assert set(ids_of(backend.list_jobs(limit=100))) == {
        ids["waiting2"],
        ids["active"],
        ids["done2"],
    }
    assert must_claim(backend).job_id == ids["waiting2"]


def test_delete_frees_the_idempotency_key(backend: Backend) -> None:
    backend.push(first := new_job(key="k"))
    assert backend.delete(first.id)
    assert not backend.push(new_job(key="k")).deduplicated


def test_purge_queue_deletes_all_but_running_jobs(backend: Backend) -> None:
    ids = make_every_state(backend, "q")
    backend.push(other := new_job("other"))
    assert backend.purge_queue("q") == 7
    assert ids_of(backend.list_jobs(queue="q")) == [ids["active"]]
    assert backend.get_job(other.id) is not None
    assert backend.queue_counts(["q"])["q"]["completed"] == 2  # the total does not shrink
    assert backend.purge_queue("q") == 0


def test_known_queues_lists_every_pushed_queue_sorted(backend: Backend) -> None:
    assert backend.known_queues() == []
    for queue in ("reports", "default", "reports", "ai"):
        backend.push(new_job(queue))
    assert backend.known_queues() == ["ai", "default", "reports"]


def test_forget_queue_drops_an_empty_queue_and_what_it_kept(backend: Backend) -> None:
    completed_jobs(backend, 2, "gone")
    backend.push(new_job("stays"))
    backend.set_paused("gone", True)
    minute = int(time.time() // 60)
    backend.metrics.add("gone", {("tests.echo", minute): MetricBucket([2, 0, 0, 0, 0])})
    assert backend.forget_queue("gone") == 2  # its completed records are jobs too
    assert backend.purge("gone", "completed", keep=0) == 2
    assert backend.forget_queue("gone") == 0
    assert backend.known_queues() == ["stays"]
    assert backend.paused_queues() == set()
    assert backend.queue_counts(["gone"])["gone"] == dict.fromkeys(COUNTED_STATES, 0)
    assert backend.metrics.totals(["gone"]) == {}
    assert backend.metrics.days("gone", 0) == {}
    assert backend.forget_queue("gone") == 0  # again, or never known: nothing to do
    backend.push(new_job("gone"))  # a push makes it known again, not paused
    assert backend.known_queues() == ["gone", "stays"]
    assert must_claim(backend, "gone") is not None


def job_in_state(backend: Backend, state: str, queue: str = "q") -> str:
    """One job brought to `state` on `queue`; returns its id."""
    job = new_job(queue, eta=time.time() + 60 if state == "delayed" else None)
    backend.push(job)
    if state == "canceled":
        backend.cancels.cancel(job.id)
    elif state not in ("waiting", "delayed"):
        claim = must_claim(backend, queue)
        if state == "retrying":
            assert backend.retry(job.id, claim.token, job.data, time.time() + 60, ERROR)
        elif state == "completed":
            assert backend.complete(job.id, claim.token, None)
        elif state == "failed":
            assert backend.fail(job.id, claim.token, ERROR)
    assert record(backend, job.id)["state"] == state
    return job.id


@pytest.mark.parametrize("state", base_storage.STATES)
def test_forget_queue_refuses_a_queue_holding_a_job(backend: Backend, state: str) -> None:
    job_id = job_in_state(backend, state)
    assert backend.forget_queue("q") == 1
    assert backend.known_queues() == ["q"]
    assert record(backend, job_id)["state"] == state


# -- administration ------------------------------------------------------------------------
def test_pause_flags_persist_and_toggle(backend: Backend, backend_url: str) -> None:
    assert backend.paused_queues() == set()
    backend.set_paused("a", True)
    backend.set_paused("b", True)
    backend.set_paused("a", True)
    assert backend.paused_queues() == {"a", "b"}
    backend.set_paused("b", False)
    backend.set_paused("never-paused", False)
    other = open_backend(backend_url)
    try:
        assert other.paused_queues() == {"a"}
    finally:
        other.close()


def test_worker_heartbeats_expire_after_their_ttl(backend: Backend) -> None:
    backend.put_worker("w-short", {"host": "h1", "queues": ["a"]}, ttl=0.4)
    backend.put_worker("w-long", {"host": "h2", "queues": ["b"]}, ttl=30)
    assert sorted(backend.workers(), key=lambda w: w["id"]) == [
        {"id": "w-long", "host": "h2", "queues": ["b"]},
        {"id": "w-short", "host": "h1", "queues": ["a"]},
    ]
    time.sleep(0.8)
    assert [w["id"] for w in backend.workers()] == ["w-long"]
    backend.put_worker("w-long", {"host": "h2", "queues": ["b", "c"]}, ttl=30)
    assert backend.workers() == [{"id": "w-long", "host": "h2", "queues": ["b", "c"]}]
    backend.remove_worker("w-long")
    backend.remove_worker("never-there")
    assert backend.workers() == []


# -- bulk and concurrency ------------------------------------------------------------------
def test_push_many_returns_results_in_order_and_jobs_are_claimable(backend: Backend) -> None:
    later = time.time() + 60
    jobs = [new_job(eta=later if i % 10 == 9 else None) for i in range(100)]
    results = backend.push_many(jobs)
    assert [(r.id, r.state, r.deduplicated) for r in results] == [
        (j.id, "delayed" if j.eta else "waiting", False) for j in jobs
    ]
    assert claim_all(backend) == [j.id for j in jobs if j.eta is None]
    assert backend.promote_due("q", later + 1) == 10
    assert backend.push_many([]) == []


def test_push_many_dedups_keys_within_the_batch_and_against_pending(backend: Backend) -> None:
    pending = new_job(key="a")
    backend.push(pending)
    batch = [new_job(key="a"), new_job(key="b"), new_job(key="b"), new_job()]
    results = backend.push_many(batch)
    assert results == [
        EnqueueResult(pending.id, "waiting", True),
        EnqueueResult(batch[1].id, "waiting", False),
        EnqueueResult(batch[1].id, "waiting", True),
        EnqueueResult(batch[3].id, "waiting", False),
    ]
    assert claim_all(backend) == [pending.id, batch[1].id, batch[3].id]


def test_concurrent_claims_never_hand_out_a_job_twice(backend: Backend, backend_url: str) -> None:
    jobs = [new_job() for _ in range(200)]
    backend.push_many(jobs)
    second = open_backend(backend_url)  # two threads per instance: threads and processes
    claimed: list[str] = []
    lock = threading.Lock()

    def drain(instance: Backend) -> None:
        while (claim := instance.claim("q", LEASE, 0.2)) is not None:
            assert instance.complete(claim.job_id, claim.token, None)
            with lock:
                claimed.append(claim.job_id)

    threads = [
        threading.Thread(target=drain, args=(b,)) for b in (backend, backend, second, second)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        second.close()
    duplicates = [job_id for job_id, n in Counter(claimed).items() if n > 1]
    assert duplicates == []
    assert sorted(claimed) == sorted(j.id for j in jobs)
    assert backend.queue_counts(["q"])["q"]["completed"] == 200


def test_a_second_instance_on_the_same_url_sees_the_same_data(
    backend: Backend, backend_url: str
) -> None:
    job = new_job()
    backend.push(job)
    other = open_backend(backend_url)
    try:
        assert other.get_job(job.id) == backend.get_job(job.id)
        claim = must_claim(other)
        assert claim.job_id == job.id
        assert backend.claim("q", LEASE, 0) is None
        assert backend.complete(job.id, claim.token, '"from the first instance"') is True
        assert other.get_job(job.id)["result"] == "from the first instance"  # type: ignore[index]
        assert other.known_queues() == ["q"]
    finally:
        other.close()


def test_put_if_empty_with_ttl_has_one_winner_until_it_expires(backend: Backend) -> None:
    """Cron ticks rely on this: one daemon claims each (job, minute)."""
    assert backend.put_if_empty("cron:x:1", b"1", 0.3) is True  # type: ignore[attr-defined]
    assert backend.put_if_empty("cron:x:1", b"1", 0.3) is False  # type: ignore[attr-defined]
    assert backend.put_if_empty("cron:x:2", b"1", 0.3) is True  # type: ignore[attr-defined]
    time.sleep(0.5)
    assert backend.put_if_empty("cron:x:1", b"1", 0.3) is True  # type: ignore[attr-defined]
