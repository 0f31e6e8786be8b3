"""Dead letters and retention through runtime.control and the CLI, on both backends."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import runtime
from runtime import control
from runtime.backends.base.storage import Backend
from runtime.config import Config, PluginsSection, RetentionSection
from runtime.durations import parse_duration
from runtime.engine import RuntimeHuey
from runtime.errors import BadInput
from runtime.jobs import JobRegistry
from runtime.messages import compose, decode
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


def fail_now(rt: Runtime, name: str, queue: str = "default", priority: int = 0) -> str:
    """A job of `name` claimed and failed at once: a dead letter without running it."""
    return fail_now_with_message(rt, name, queue, priority)[0]


def fail_now_with_message(
    rt: Runtime, name: str, queue: str = "default", priority: int = 0
) -> tuple[str, bytes]:
    """`fail_now`, and the job's message as it was stored."""
    payload = {"times": 9} if name == "diagnostics.fail" else {}
    job_id = rt.enqueue(name, payload, queue=queue, priority=priority)
    claim = rt.backend.claim(queue, 30, 0)
    assert claim is not None and claim.job_id == job_id
    assert rt.backend.fail(job_id, claim.token, {"type": "E", "message": "m", "traceback": None})
    return job_id, claim.data


def states(rt: Runtime, ids: list[str]) -> set[str | None]:
    return {(rt.job(job_id) or {}).get("state") for job_id in ids}


def test_retry_all_and_delete_all_work_a_chunk_at_a_time(rt: Runtime) -> None:
    """2.5 chunks of one job name, with dead jobs of another name between them that the
    walk steps over, and one on another queue."""
    spent = dead_letter(rt)  # its message has no retries left
    fail_ids, echo_ids = [spent], []
    for n in range(24):
        fail_ids.append(fail_now(rt, "diagnostics.fail"))
        if n % 2:
            echo_ids.append(fail_now(rt, "diagnostics.echo"))
    other = fail_now(rt, "diagnostics.fail", queue="other")
    retried = control.retry_all(rt.backend, rt.registry, "default", "diagnostics.fail", chunk=10)
    assert retried == 25
    assert states(rt, fail_ids) == {"waiting"}
    assert states(rt, [*echo_ids, other]) == {"failed"}
    claim = rt.backend.claim("default", 30, 0)  # the oldest: the one whose retries were spent
    assert claim is not None and claim.job_id == spent
    assert decode(claim.data)["retries"] == 3 and decode(claim.data)["payload"] == {"times": 9}
    assert control.delete_all(rt.backend, None, "diagnostics.echo", chunk=5) == 12
    assert states(rt, echo_ids) == {None} and states(rt, [other]) == {"failed"}
    assert control.delete_all(rt.backend, chunk=5) == 1
    assert control.retry_all(rt.backend, rt.registry, chunk=5) == 0
    details = [e["details"] for e in control_actions(rt, "job.retry_all")]
    assert details == [{"retried": 25}, {"retried": 0}]


def test_retry_all_gives_each_name_and_priority_its_own_head(rt: Runtime) -> None:
    """Names and priorities mixed within chunks of 4, and a job whose plugin is not loaded
    here (its message stays as it was)."""
    rt.allow_unknown = True
    dead = {}
    for n in range(9):
        name = "signup.welcome" if n % 3 == 0 else "diagnostics.fail"
        job_id, data = fail_now_with_message(rt, name, priority=n % 2 * 5)
        dead[job_id] = (name, n % 2 * 5, data)
    assert control.retry_all(rt.backend, rt.registry, chunk=4) == 9
    claims = [rt.backend.claim("default", 30, 0) for _ in dead]
    for claim in claims:
        assert claim is not None
        name, priority, before = dead[claim.job_id]
        if name == "signup.welcome":
            assert claim.data == before
        else:
            options = rt.registry.get(name).message_options(priority)
            assert claim.data == compose(claim.job_id, name, '{"times":9}', options)
            assert decode(claim.data)["priority"] == priority


def test_a_failure_group_is_retried_and_deleted_a_chunk_at_a_time(rt: Runtime) -> None:
    ids = [fail_now(rt, "diagnostics.fail") for _ in range(5)]
    other = fail_now(rt, "diagnostics.echo")
    (group,) = [g for g in control.failure_groups(rt.backend, rt.config) if g["count"] == 5]
    done = control.act_on_failure_group(rt.backend, rt.registry, "retry", group, chunk=2)
    assert done == {"done": 5, "skipped": 0}
    assert states(rt, ids) == {"waiting"} and states(rt, [other]) == {"failed"}
    claims = [rt.backend.claim("default", 30, 0) for _ in ids]
    assert {claim.job_id for claim in claims if claim} == set(ids)
    for claim in claims:
        assert claim is not None
        assert rt.backend.fail(claim.job_id, claim.token, {"type": "E", "message": "m"})
    done = control.act_on_failure_group(rt.backend, rt.registry, "delete", group, chunk=2)
    assert done == {"done": 5, "skipped": 0}
    assert states(rt, ids) == {None} and states(rt, [other]) == {"failed"}


def test_clean_deletes_more_than_a_chunk(rt: Runtime) -> None:
    rt.enqueue_many("diagnostics.echo", [{"message": n} for n in range(25)])
    run_all(rt)
    assert control.clean(rt.backend, None, "completed", older_than=0, chunk=10) == 25
    assert rt.backend.list_jobs(state="completed").jobs == []


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
    left = rt.backend.list_jobs(queue="default", state="completed", limit=10).jobs
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


# -- job records, listing and the remaining controls ----------------------------------------
def test_job_records_mask_personal_payload_fields_but_keep_them_for_retries(rt: Runtime) -> None:
    payload = {"message": "mail jane@corp.com", "email": "jane@corp.com", "api_key": "sk-123"}
    rt.allow_unknown = True  # a job of an app's own plugin, not installed here
    job_id = rt.enqueue("signup.welcome", payload)
    shown = control.show_job(rt.backend, job_id)
    assert shown["payload"] == {"message": "mail j***@corp.com", "email": "j***", "api_key": "***"}
    listed = control.list_jobs(rt.backend, state="waiting")["jobs"]
    assert [row["payload"] for row in listed] == [shown["payload"]]
    assert (rt.job(job_id) or {})["payload"] == payload  # stored as sent, for the worker


def test_progress_eta_follows_the_rate_of_progress(rt: Runtime) -> None:
    job_id = rt.enqueue("diagnostics.echo", {})
    claim = rt.backend.claim("default", 30, 0)
    assert claim is not None and rt.backend.progress(job_id, claim.token, 25, "parsing")
    record = rt.job(job_id) or {}
    assert control.progress_eta(record, now=record["started_at"] + 10) == 30.0
    assert control.progress_eta({**record, "progress": {"percent": 0}}, now=0) is None
    progress = control.show_job(rt.backend, job_id)["progress"]
    assert progress["percent"] == 25 and progress["stage"] == "parsing"
    assert progress["eta"] is None or progress["eta"] >= 0


def test_list_jobs_pages_and_refuses_bad_input(rt: Runtime) -> None:
    rt.enqueue_many("diagnostics.echo", [{"message": i} for i in range(5)])
    first = control.list_jobs(rt.backend, limit=3)
    rest = control.list_jobs(rt.backend, limit=3, cursor=first["next_cursor"])
    messages = [row["payload"]["message"] for row in first["jobs"] + rest["jobs"]]
    assert messages == [4, 3, 2, 1, 0] and rest["next_cursor"] is None
    with pytest.raises(BadInput, match="unknown state 'done'"):
        control.list_jobs(rt.backend, state="done")
    with pytest.raises(BadInput, match="'zz' is not a cursor from this listing"):
        control.list_jobs(rt.backend, cursor="zz")
    with pytest.raises(BadInput, match="limit must be between 1 and 1000, got 0"):
        control.list_jobs(rt.backend, limit=0)


def test_delete_refuses_running_and_unknown_jobs(rt: Runtime) -> None:
    waiting = rt.enqueue("diagnostics.echo", {})
    control.delete_job(rt.backend, waiting)
    assert rt.job(waiting) is None
    running = rt.enqueue("diagnostics.echo", {})
    assert rt.backend.claim("default", 30, 0) is not None
    with pytest.raises(BadInput, match=f"job {running} is running; cancel it first"):
        control.delete_job(rt.backend, running)
    with pytest.raises(BadInput, match="no job with id 'nope'"):
        control.delete_job(rt.backend, "nope")


def test_purge_needs_the_queue_name_twice(rt: Runtime) -> None:
    rt.enqueue_many("diagnostics.echo", [{} for _ in range(3)])
    with pytest.raises(BadInput, match="confirm with --yes-i-mean-it default"):
        control.purge_queue(rt.backend, rt.config, "default", None)
    with pytest.raises(BadInput, match="unknown queue 'nope'; known queues: default"):
        control.purge_queue(rt.backend, rt.config, "nope", "nope")
    assert control.purge_queue(rt.backend, rt.config, "default", "default") == 3
    assert rt.backend.queue_counts(["default"])["default"]["waiting"] == 0


def test_drain_waits_until_the_queue_is_empty(rt: Runtime) -> None:
    rt.enqueue("diagnostics.echo", {})
    assert not control.drain_queue(rt.backend, rt.config, "default", timeout=0.2, poll=0.05)
    run_all(rt)
    assert control.drain_queue(rt.backend, rt.config, "default", timeout=5)


def test_cli_job_list_delete_drain_and_purge(
    tmp_path: Path, backend_url: str, backend: Backend
) -> None:
    config = str(write_config(tmp_path, backend_url))
    rt = Runtime(backend, config=Config(plugins=PluginsSection(modules=[str(TEST_PLUGIN)])))
    ids = [rt.enqueue("diagnostics.echo", {"message": n}) for n in range(3)]
    page = cli_json("job", "list", "--limit", "2", "--json", "-c", config)
    assert [row["id"] for row in page["jobs"]] == ids[:0:-1] and page["next_cursor"]
    rest = cli_json("job", "list", "--cursor", page["next_cursor"], "--json", "-c", config)
    assert ([row["id"] for row in rest["jobs"]], rest["next_cursor"]) == ([ids[0]], None)
    only = cli_json("job", "list", "--job", "diagnostics.sleep", "--json", "-c", config)
    assert only == {"jobs": [], "next_cursor": None}
    assert cli_json("job", "delete", ids[0], "--json", "-c", config) == {
        "id": ids[0],
        "deleted": True,
    }
    busy = run_cli("queue", "drain", "default", "--timeout", "1s", "-c", config)
    assert busy.returncode == 1 and "still had work after 1s" in busy.stderr
    refused = run_cli("queue", "purge", "default", "-c", config)
    assert refused.returncode == 2 and "--yes-i-mean-it default" in refused.stderr
    purged = cli_json(
        "queue", "purge", "default", "--yes-i-mean-it", "default", "--json", "-c", config
    )
    assert purged == {"queue": "default", "removed": 2}
    assert cli_json("queue", "drain", "default", "--json", "-c", config) == {
        "queue": "default",
        "drained": True,
    }


# -- forgetting queues ------------------------------------------------------------------------
@runtime.job(name="tests.report", queue="reports")
def report_job() -> None:
    """A job naming a queue no config has."""


def control_actions(rt: Runtime, action: str) -> list[dict[str, Any]]:
    found, _ = control.read_events(rt.backend, limit=100, event_type="control")
    return [event for event in found if event["action"] == action]


def test_forget_refuses_what_is_in_use_and_forgets_an_empty_queue(rt: Runtime) -> None:
    registry = JobRegistry()
    registry.add(report_job)

    def forget(queue: str) -> dict[str, Any]:
        return control.forget_queue(rt.backend, rt.config, queue, registry)

    with pytest.raises(BadInput, match=r"^unknown queue 'scratch'; known queues: default\.$"):
        forget("scratch")
    with pytest.raises(BadInput, match=r"^queue name 'no way' is invalid: use 1 to 100"):
        forget("no way")
    with pytest.raises(BadInput, match=r"^queue default is configured \(\[queues\.default\]\); "):
        forget("default")
    job_id = rt.enqueue("diagnostics.echo", {}, queue="scratch")
    with pytest.raises(BadInput, match=r"^queue scratch still holds 1 job; purge it first \("):
        forget("scratch")
    rt.backend.put_worker("host:1:abc", {"queues": ["scratch"]}, ttl=30)
    with pytest.raises(BadInput, match=r"^queue scratch is served by a live worker \(host:1:abc\)"):
        forget("scratch")
    rt.backend.remove_worker("host:1:abc")
    control.delete_job(rt.backend, job_id)
    rt.backend.set_paused("scratch", True)
    assert forget("scratch") == {"queue": "scratch", "forgotten": True}
    assert rt.backend.known_queues() == []
    assert rt.backend.paused_queues() == set()  # forgetting by hand drops a pause
    assert [event["queue"] for event in control_actions(rt, "queue.forget")] == ["scratch"]
    rt.enqueue("diagnostics.echo", {}, queue="reports")
    rt.backend.purge_queue("reports")
    with pytest.raises(BadInput, match=r"^queue reports is the queue of job tests\.report; "):
        forget("reports")
    assert "reports" in rt.backend.known_queues()


def test_purge_forgets_a_queue_nobody_configures_serves_or_paused(rt: Runtime) -> None:
    for queue in ("scratch", "held", "paused", "default"):
        rt.enqueue_many("diagnostics.echo", [{}] * 3, queue=queue)
    rt.backend.set_paused("paused", True)
    assert rt.backend.claim("held", 30, 0) is not None  # a running job stays
    removed = {q: control.purge_queue(rt.backend, rt.config, q, q) for q in ("scratch", "held")}
    removed |= {q: control.purge_queue(rt.backend, rt.config, q, q) for q in ("paused", "default")}
    assert removed == {"scratch": 3, "held": 2, "paused": 3, "default": 3}
    assert rt.backend.known_queues() == ["default", "held", "paused"]
    purges = {event["queue"]: event["details"] for event in control_actions(rt, "queue.purge")}
    assert purges["scratch"] == {"removed": 3, "forgotten": True}
    assert purges["held"] == {"removed": 2, "forgotten": False}
    rt.enqueue("diagnostics.echo", {}, queue="scratch")  # its next push brings it back
    assert "scratch" in rt.backend.known_queues()


def test_idle_queues_nobody_names_are_forgotten(rt: Runtime) -> None:
    for queue in ("idle", "named", "served", "paused", "busy", "default"):
        job_id = rt.enqueue("diagnostics.echo", {}, queue=queue)
        if queue != "busy":
            rt.backend.delete(job_id)
    rt.backend.put_worker("w", {"queues": ["served"]}, ttl=30)
    rt.backend.set_paused("paused", True)
    assert control.forget_idle_queues(rt.backend, rt.config, named={"named"}) == ["idle"]
    assert rt.backend.known_queues() == ["busy", "default", "named", "paused", "served"]
    assert [e["details"] for e in control_actions(rt, "queue.forget")] == [{"idle": True}]
    assert control.forget_idle_queues(rt.backend, rt.config) == ["named"]


# -- the dashboard's job detail: attempts, next retry, retry with an edited payload --------
@runtime.job(name="tests.signup", retries=2)
def signup_job(email: str, api_key: str, plan: str, seats: int = 1) -> None:
    """A job whose payload holds personal data (email) and a secret (api_key)."""


def signup_registry() -> JobRegistry:
    registry = JobRegistry()
    registry.add(signup_job)
    return registry


def failed_signup(rt: Runtime, registry: JobRegistry) -> str:
    rt.registry = registry
    job_id = rt.enqueue(
        "tests.signup", {"email": "jane@corp.com", "api_key": "sk-123", "plan": "free"}
    )
    claim = rt.backend.claim("default", 30, 0)
    assert claim is not None and claim.job_id == job_id
    rt.backend.fail(job_id, claim.token, {"type": "E", "message": "boom", "traceback": None})
    return job_id


def test_job_detail_says_attempts_of_registered_ones_and_when_a_retry_runs(rt: Runtime) -> None:
    job_id = rt.enqueue("diagnostics.fail", {"times": 9})
    run_all(rt)  # attempt 1 fails: retrying, due after retry_delay
    detail = control.job_detail(rt.backend, rt.registry, job_id)
    assert (detail["state"], detail["attempts"], detail["max_attempts"]) == ("retrying", 1, 4)
    assert detail["next_retry_at"] is not None and detail["next_retry_at"] == detail["eta"]
    rt.allow_unknown = True
    other = rt.enqueue("signup.welcome", {})  # its plugin is not loaded here
    detail = control.job_detail(rt.backend, rt.registry, other)
    assert (detail["max_attempts"], detail["next_retry_at"]) == (None, None)


def test_retry_edited_keeps_masked_values_and_audits_changed_field_names(rt: Runtime) -> None:
    registry = signup_registry()
    job_id = failed_signup(rt, registry)
    shown = control.show_job(rt.backend, job_id)["payload"]
    assert shown == {"email": "j***", "api_key": "***", "plan": "free"}
    edited = {**shown, "plan": "pro", "seats": 3}
    record = control.retry_job_edited(rt.backend, registry, job_id, edited)
    assert record["state"] == "waiting"
    stored = (rt.job(job_id) or {})["payload"]
    assert stored == {"email": "jane@corp.com", "api_key": "sk-123", "plan": "pro", "seats": 3}
    [event] = control_actions(rt, "job.retry_edited")
    assert event["job_id"] == job_id and event["actor"]
    assert event["details"] == {"changed": ["plan", "seats"]}
    assert "pro" not in str(event) and "jane" not in str(event)


def test_retry_edited_refuses_an_invalid_payload_and_a_job_that_is_not_dead(rt: Runtime) -> None:
    registry = signup_registry()
    job_id = failed_signup(rt, registry)
    shown = control.show_job(rt.backend, job_id)["payload"]
    with pytest.raises(BadInput, match="invalid payload for tests.signup: field 'seats'"):
        control.retry_job_edited(rt.backend, registry, job_id, {**shown, "seats": "many"})
    with pytest.raises(BadInput, match="must be a JSON object"):
        control.retry_job_edited(rt.backend, registry, job_id, ["plan"])
    assert (rt.job(job_id) or {})["state"] == "failed"
    control.retry_job(rt.backend, registry, job_id)
    with pytest.raises(BadInput, match=f"job {job_id} is waiting; only failed or canceled"):
        control.retry_job_edited(rt.backend, registry, job_id, {"plan": "pro"})
    assert control_actions(rt, "job.retry_edited") == []
