"""Worker registry, dead-worker leases and leadership (item 4 of issue 4), on both backends.

Backend-level tests drive time through arguments and short ttls; the daemon tests run
real `runtime start` processes and read what they publish.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from runtime import control
from runtime.backends import open_backend
from runtime.backends.base.storage import Backend, Claim
from runtime.config import load_config
from runtime.producer import Runtime
from tests.helpers import Daemon, run_cli, wait_for, write_config
from tests.test_backend_contract import new_job

LEASE = 60.0


def claim_as(backend: Backend, worker_id: str, queue: str = "q") -> Claim:
    backend.worker_id = worker_id
    try:
        claim = backend.claim(queue, LEASE, timeout=0)
    finally:
        backend.worker_id = None
    assert claim is not None
    return claim


# -- registry ------------------------------------------------------------------------------
def test_claims_record_the_heartbeat_id_as_worker(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    claim_as(backend, "host:1:abc")
    assert (backend.get_job(job.id) or {})["worker"] == "host:1:abc"


def test_claims_outside_a_worker_record_host_and_pid(backend: Backend) -> None:
    job = new_job()
    backend.push(job)
    assert backend.claim("q", LEASE, timeout=0) is not None
    assert (backend.get_job(job.id) or {})["worker"].endswith(f":{os.getpid()}")


def test_worker_jobs_are_the_active_jobs_claimed_under_its_id(backend: Backend) -> None:
    jobs = [new_job() for _ in range(4)]
    backend.push_many(jobs)
    mine = [claim_as(backend, "w1").job_id, claim_as(backend, "w1").job_id]
    claim_as(backend, "w2")
    assert backend.cluster.worker_jobs("q", "w1") == sorted(mine)
    assert backend.cluster.worker_jobs("other", "w1") == []


def test_worker_jobs_follow_every_way_a_lease_ends(backend: Backend) -> None:
    backend.push_many([new_job() for _ in range(5)])
    done, failed, released, reaped, running = (claim_as(backend, "w1") for _ in range(5))
    assert backend.complete(done.job_id, done.token, None)
    assert backend.fail(failed.job_id, failed.token, {"type": "E", "message": "m"})
    assert backend.release(released.job_id, released.token)
    assert backend.cluster.worker_jobs("q", "w1") == sorted([reaped.job_id, running.job_id])
    backend.renew(running.job_id, running.token, 3600)  # the reap below spares it
    assert backend.reap_expired("q", reaped.deadline + 1).recovered == [reaped.job_id]
    assert backend.cluster.worker_jobs("q", "w1") == [running.job_id]
    again = claim_as(backend, "w2")  # the released or the reaped job, now under w2
    assert backend.cluster.worker_jobs("q", "w2") == [again.job_id]
    assert backend.cluster.worker_jobs("q", "w1") == [running.job_id]


@pytest.mark.redis
def test_redis_worker_index_empties_once_a_dead_workers_jobs_are_reaped(redis_url: str) -> None:
    import redis

    from runtime.backends.redis import keys

    backend = open_backend(redis_url)
    try:
        backend.push_many([new_job() for _ in range(3)])
        claims = [claim_as(backend, "dead") for _ in range(3)]
        conn = redis.Redis.from_url(redis_url)
        assert conn.scard(keys.worker_jobs("dead")) == 3
        expired = backend.cluster.expire_leases_of_dead_workers("q", [], time.time() + 1)
        assert sorted(expired) == sorted(claim.job_id for claim in claims)
        assert len(backend.reap_expired("q", time.time() + 1).recovered) == 3
        assert not conn.exists(keys.worker_jobs("dead"))  # nothing left behind
    finally:
        backend.close()


# -- dead workers --------------------------------------------------------------------------
def test_leases_of_dead_workers_expire_at_once_and_are_reaped(backend: Backend) -> None:
    dead_job, live_job, fresh_job, other_queue = new_job(), new_job(), new_job(), new_job("r")
    backend.push_many([dead_job, live_job, fresh_job, other_queue])
    dead = claim_as(backend, "dead")
    claim_as(backend, "live")
    claim_as(backend, "dead", "r")
    cutoff = time.time() + 0.001  # claims before this count; the next one is too fresh
    time.sleep(0.002)
    fresh = claim_as(backend, "dead")
    expired = backend.cluster.expire_leases_of_dead_workers("q", ["live", "daemon"], cutoff)
    assert expired == [dead.job_id]
    reaped = backend.reap_expired("q", time.time() + 0.001)
    assert reaped.recovered == [dead.job_id]
    record = backend.get_job(dead.job_id) or {}
    assert (record["state"], record["stalls"]) == ("waiting", 1)
    assert (backend.get_job(fresh.job_id) or {})["state"] == "active"
    assert backend.complete(dead.job_id, dead.token, None) is False  # the dead one is fenced
    assert backend.cluster.expire_leases_of_dead_workers("q", ["live"], cutoff) == []


def test_leases_of_dead_workers_expire_in_batches(backend: Backend) -> None:
    """Jobs of dead and live workers interleaved, 2.5 batches' worth of dead ones: each
    batch spares the live ones it sees and the walk goes on past them."""
    backend.push_many([new_job() for _ in range(35)])
    dead = [claim_as(backend, "dead" if n % 7 else "live").job_id for n in range(35)]
    live = dead[::7]
    del dead[::7]
    expired = backend.cluster.expire_leases_of_dead_workers(
        "q", ["live"], time.time() + 1, batch=12
    )
    assert sorted(expired) == sorted(dead) and len(expired) == 30
    assert backend.cluster.expire_leases_of_dead_workers("q", ["live"], time.time() + 1) == []
    assert sorted(backend.reap_expired("q").recovered) == sorted(dead)
    assert backend.cluster.worker_jobs("q", "live") == sorted(live)


def test_no_live_workers_expires_every_old_claim(backend: Backend) -> None:
    backend.push(new_job())
    claim = claim_as(backend, "w")
    assert backend.cluster.expire_leases_of_dead_workers("q", [], time.time() + 1) == [claim.job_id]


# -- leadership ----------------------------------------------------------------------------
def test_one_of_two_candidates_leads(backend: Backend, backend_url: str) -> None:
    other = open_backend(backend_url)
    try:
        assert backend.cluster.leader() is None
        assert backend.cluster.lead("a", ttl=30) is True
        assert other.cluster.lead("b", ttl=30) is False
        assert backend.cluster.lead("a", ttl=30) is True  # extended
        assert other.cluster.leader() == "a"
        backend.cluster.resign("b")  # not b's to give up
        assert other.cluster.leader() == "a"
        backend.cluster.resign("a")
        assert backend.cluster.leader() is None
        assert other.cluster.lead("b", ttl=30) is True
    finally:
        other.close()


def test_an_expired_lead_hands_over(backend: Backend) -> None:
    assert backend.cluster.lead("a", ttl=0.2) is True
    assert backend.cluster.lead("b", ttl=30) is False
    wait_for(lambda: backend.cluster.leader() is None, 5, "the lead to expire")
    assert backend.cluster.lead("b", ttl=30) is True
    assert backend.cluster.lead("a", ttl=30) is False
    assert backend.cluster.leader() == "b"


# -- through real daemons ------------------------------------------------------------------
def producer(config: Path) -> Runtime:
    return Runtime(config=load_config(config))


def beats(rt: Runtime, kind: str) -> list[dict[str, Any]]:
    return [w for w in rt.backend.workers() if w.get("kind") == kind]


def process_config(tmp_path: Path, backend_url: str, **options: Any) -> Path:
    config = write_config(tmp_path, backend_url, workers=2, **options)
    text = config.read_text().replace("workers = 2", 'workers = 2\nworker_type = "process"')
    config.write_text(text)
    return config


@pytest.mark.slow
@pytest.mark.parametrize("worker_type", ["thread", "process"])
def test_heartbeats_name_daemon_worker_and_running_jobs(
    tmp_path: Path, backend_url: str, worker_type: str
) -> None:
    config = (
        process_config(tmp_path, backend_url)
        if worker_type == "process"
        else write_config(tmp_path, backend_url, workers=2)
    )
    rt = producer(config)
    done = rt.enqueue("diagnostics.echo", {"message": "one"})
    with Daemon(config) as daemon:
        wait_for(lambda: (rt.job(done) or {}).get("state") == "completed", 30, "a first job")
        running = rt.enqueue("diagnostics.sleep", {"seconds": 60})
        worker = wait_for(
            lambda: [w for w in beats(rt, "worker") if w["current_jobs"] == [running]],
            20,
            "a heartbeat naming the running job",
        )[0]
        (boss,) = wait_for(
            lambda: [d for d in beats(rt, "daemon") if d["current_jobs"] == [running]],
            20,
            "the daemon's heartbeat",
        )
        status = json.loads(run_cli("status", "-c", str(config), "--json").stdout)
        # diagnostics.sleep watches ctx.cancelled: canceled, it stops and frees the drain.
        control.cancel_job(rt.backend, running)
        wait_for(lambda: (rt.job(running) or {}).get("state") == "canceled", 20, "canceled")
        assert daemon.terminate() == 0
    assert (rt.job(running) or {})["worker"] == worker["id"]
    assert (worker["kind"], worker["queues"], worker["worker_type"]) == (
        "worker",
        ["default"],
        worker_type,
    )
    assert worker["daemon"] == boss["id"] and worker["pid"] != boss["pid"]
    assert worker["processed"] >= 1 and worker["rss"] > 0
    assert worker["heartbeat"] >= worker["started"]
    assert (boss["queues"], boss["leader"], boss["processed"]) == (
        ["default"],
        True,
        worker["processed"],
    )
    assert status["leader"] == boss["id"]
    assert {w["id"] for w in status["workers"]} == {boss["id"], worker["id"]}
    assert not rt.backend.workers()  # both removed their heartbeat on the way out


@pytest.mark.slow
def test_jobs_of_a_killed_worker_are_reaped_before_their_lease_ends(
    tmp_path: Path, backend_url: str
) -> None:
    """crash_once kills its worker process; with a 60 s lease only the dead worker's
    missing heartbeats (3 x 1 s) can bring the job back this soon."""
    config = write_config(tmp_path, backend_url, lease=60.0)
    rt = producer(config)
    job_id = rt.enqueue("testjobs.crash_once", {"marker": str(tmp_path / "crashed")})
    with Daemon(config) as daemon:
        record = wait_for(
            lambda: (rt.job(job_id) or {}).get("state") == "completed" and rt.job(job_id),
            30,
            "the job to be recovered and run again",
        )
        assert daemon.terminate() == 0
    assert (record["attempts"], record["stalls"], record["result"]) == (2, 1, 2)
    assert "lost their worker (no heartbeat for 3s); reaping them now" in daemon.output()


@pytest.mark.slow
def test_one_of_two_daemons_leads_and_a_dead_leader_hands_over(
    tmp_path: Path, backend_url: str
) -> None:
    configs = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        configs.append(write_config(folder, backend_url))
    rt = producer(configs[0])
    with Daemon(configs[0]) as first, Daemon(configs[1]) as second:
        daemons = wait_for(lambda: len(beats(rt, "daemon")) == 2 and beats(rt, "daemon"), 20)
        leader = rt.backend.cluster.leader()
        assert [d["id"] for d in daemons if d["leader"]] == [leader]
        survivor, victim = (
            (second, first)
            if f":{first.proc.pid}:" in str(leader)
            else (
                first,
                second,
            )
        )
        victim.__exit__()  # SIGKILL: no resignation, the lease must run out
        wait_for(
            lambda: f":{survivor.proc.pid}:" in str(rt.backend.cluster.leader()),
            20,
            "the other daemon to take the lead",
        )
        assert survivor.terminate() == 0
    assert rt.backend.cluster.leader() is None  # a stopping leader resigns


# -- housekeeping apart from the heartbeat (issue 9, item 3) ----------------------------------
def test_the_heartbeat_goes_on_while_housekeeping_is_stuck(
    tmp_path: Path, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Housekeeping (here: handing back dead workers' jobs, stuck for seconds) runs on its
    own thread: the heartbeat keeps its pace, so nobody takes this worker for dead."""
    from runtime.plugins import load_plugins
    from runtime.worker import Heartbeat, Housekeeper, build

    config = load_config(write_config(tmp_path, backend_url))
    config.runtime.heartbeat_interval = 0.1
    huey, consumer = build(config, "default", load_plugins(config))
    beats = open_backend(backend_url)
    stuck = open_backend(backend_url)
    published: list[float] = []
    real_put = beats.put_worker
    monkeypatch.setattr(
        beats, "put_worker", lambda *a: published.append(time.monotonic()) or real_put(*a)
    )
    monkeypatch.setattr(stuck.cluster, "expire_leases_of_dead_workers", lambda *a: time.sleep(5))
    heartbeat = Heartbeat(huey, consumer, config, beats)
    keeper = Housekeeper(huey, config, stuck, heartbeat.finished)
    heartbeat.start()
    keeper.start()
    try:
        time.sleep(1.0)  # the housekeeper is inside its 5 s call from 0.1 s on
        assert len(published) >= 5, published
        assert heartbeat.worker_id in {worker["id"] for worker in beats.workers()}
    finally:
        heartbeat.finished.set()
        heartbeat.join(2)
        huey.backend.close()


def test_retention_is_the_leading_daemons_for_every_queue(
    tmp_path: Path, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import runtime.daemon as daemon
    from runtime.plugins import load_plugins

    config = load_config(write_config(tmp_path, backend_url))
    config.runtime.heartbeat_interval = 0.05
    config.retention.completed_max = 1
    rt = Runtime.from_config(tmp_path / "config.toml")
    for queue in ("a", "b"):
        for _ in range(3):
            rt.enqueue("diagnostics.echo", {}, queue=queue)
            claim = rt.backend.claim(queue, 30, 0)
            assert claim is not None and rt.backend.complete(claim.job_id, claim.token, None)

    def completed() -> int:
        return len(rt.backend.list_jobs(state="completed", limit=50).jobs)

    monkeypatch.setattr(daemon, "RETENTION_INTERVAL", 0.05)
    steward = daemon.Steward("d1", config, load_plugins(config), ["default"])
    retention = daemon.Retention(steward, config)
    retention.start()
    try:
        time.sleep(0.4)
        assert completed() == 6  # not leading: nothing trimmed
        steward.leading = True
        wait_for(lambda: completed() == 2, what="one completed record per queue")
    finally:
        steward.stopped.set()
        retention.join(2)
        steward.backend.close()


def test_retention_forgets_the_queues_it_empties_that_nobody_names(
    tmp_path: Path, backend_url: str
) -> None:
    import runtime.daemon as daemon
    from runtime.plugins import load_plugins

    config = load_config(write_config(tmp_path, backend_url))
    config.retention.completed_max = 0
    rt = Runtime.from_config(tmp_path / "config.toml")
    for queue in ("scratch", "served-here", "busy"):
        rt.enqueue("diagnostics.echo", {}, queue=queue)
        if queue != "busy":
            claim = rt.backend.claim(queue, 30, 0)
            assert claim is not None and rt.backend.complete(claim.job_id, claim.token, None)
    steward = daemon.Steward("d1", config, load_plugins(config), ["default", "served-here"])
    retention = daemon.Retention(steward, config)
    try:
        retention.trim()  # cleans scratch and served-here, then forgets scratch only
        assert rt.backend.known_queues() == ["busy", "served-here"]
        assert rt.backend.list_jobs(state="completed").jobs == []
    finally:
        retention.backend.close()
        steward.backend.close()
