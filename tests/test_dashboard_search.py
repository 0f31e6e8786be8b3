"""The jobs screen's search and bulk actions, driven with Pilot against a real SQLite file
and a real redis-server: a payload or error search streams its matches with how far it
got and stops on escape, `A` acts on every matching job (not the loaded page) with a
report, and a failure group opens its own jobs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from runtime import control
from runtime.producer import Runtime
from tests.dashboard_helpers import (
    app_for,
    dashboard_config,
    failed_job,
    noted,
    rows,
    run,
    state,
    until,
)
from tests.redis_server import RedisServer
from tui.screens.bulk import BulkRun
from tui.screens.confirm import Confirm
from tui.screens.jobs import JobsScreen


def where_text(app: Any) -> str:
    return str(app.screen.query_one("#where").render())


async def filter_jobs(pilot: Any, text: str) -> None:
    await pilot.press("slash")
    pilot.app.screen.query_one("#filter").value = text
    await pilot.press("enter")


def test_a_payload_search_streams_its_matches_and_says_how_far_it_got(
    tmp_path: Path, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(control, "SEARCH_BUDGET", 40)  # several steps over 200 jobs
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    texts = [f"order-{n}" if n % 50 == 7 else "other" for n in range(200)]
    ids = rt.enqueue_many("testjobs.append", [{"path": "/dev/null", "text": t} for t in texts])
    wanted = {job_id for job_id, text in zip(ids, texts, strict=True) if text != "other"}
    app = app_for(config)

    async def scenario(pilot: Any) -> None:
        await pilot.press("2")
        await until(lambda: len(rows(app)) == 50, "a first page")
        await filter_jobs(pilot, "payload.text:order-*")
        await until(lambda: "searched to the end" in where_text(app), "the search's end")
        assert set(rows(app)) == wanted
        assert "searched 200 of 200 jobs: 4 matches" in where_text(app)
        await pilot.pause(0.5)  # a finished search is not read again every refresh
        assert set(rows(app)) == wanted

    asyncio.run(run(app, scenario))


def test_escape_stops_a_search_and_a_bad_filter_says_why(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(control, "SEARCH_BUDGET", 10)
    search = control.search_jobs

    def slow_search(*args: Any, **kwargs: Any) -> Any:  # a slow backend: steps take a while
        time.sleep(0.05)
        return search(*args, **kwargs)

    monkeypatch.setattr(control, "search_jobs", slow_search)
    config = dashboard_config(tmp_path, sqlite_url)
    rt = Runtime(config=config)
    rt.enqueue_many("testjobs.append", [{"path": "/dev/null", "text": "x"}] * 5000)
    app = app_for(config)
    shown = noted(app)

    async def scenario(pilot: Any) -> None:
        await pilot.press("2")
        await until(lambda: len(rows(app)) == 50, "a first page")
        await filter_jobs(pilot, 'error:"unclosed')
        await until(lambda: shown, "the refusal")
        assert shown == ['a quote is not closed; write error:"some text".']
        app.screen.query_one("#filter").value = "payload.text:nothing-like-this"
        await pilot.press("enter")
        await until(lambda: "escape stops" in where_text(app), "a running search")
        await pilot.press("escape")
        await until(lambda: "search stopped after" in where_text(app), "the stop")
        assert rows(app) == {}
        await pilot.press("escape")  # a second escape clears the filter
        await until(lambda: len(rows(app)) == 50, "the plain listing again")

    asyncio.run(run(app, scenario))


def test_select_all_matching_retries_every_match_with_a_report(
    tmp_path: Path, backend_url: str
) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    timeouts = [failed_job(rt, str(n), f"order {n} timed out") for n in range(6)]
    others = [failed_job(rt, str(n), "disk full") for n in range(3)]
    app = app_for(config)

    async def scenario(pilot: Any) -> None:
        await pilot.press("2")
        jobs = app.screen
        assert isinstance(jobs, JobsScreen)
        jobs.query_one("#states").active = "failed"  # type: ignore[attr-defined]
        await until(lambda: len(rows(app)) == 9, "the failed jobs")
        await filter_jobs(pilot, 'error:"timed out"')
        await until(lambda: "searched to the end" in where_text(app), "the search")
        await pilot.press("A")
        assert "all matching jobs selected" in where_text(app)
        await pilot.press("r")
        await until(lambda: isinstance(app.screen, Confirm), "the confirmation")
        await pilot.press("enter")
        bulk = await until(lambda: isinstance(app.screen, BulkRun) and app.screen, "the run")
        await until(lambda: bulk.finished, "the report")
        assert "finished: 6 done, 0 skipped, 0 failed" in str(
            bulk.query_one("#bulk-counts").render()
        )
        await pilot.press("enter")

    asyncio.run(run(app, scenario))
    assert {state(rt, job_id) for job_id in timeouts} == {"waiting"}
    assert {state(rt, job_id) for job_id in others} == {"failed"}
    audit = [
        e for e in rt.backend.events.read(limit=100) if e.get("action") == "job.retry_matching"
    ]
    assert len(audit) == 1 and audit[0]["actor"]
    assert audit[0]["details"]["done"] == 6
    assert audit[0]["details"]["filter"] == "error:timed out"


def test_a_bulk_action_skips_jobs_that_changed_state(tmp_path: Path, backend_url: str) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    ids = rt.enqueue_many("testjobs.append", [{"path": "/dev/null", "text": "x"}] * 5)
    registry = control.load_plugins(config).registry
    steps = control.act_on_matching(
        rt.backend, registry, "retry", None, "waiting", control.JobQuery()
    )
    assert list(steps)[-1] == {"seen": 5, "done": 0, "skipped": 5}  # waiting jobs do not retry
    deleted = control.act_on_matching(
        rt.backend, registry, "delete", "default", "waiting", control.JobQuery(), chunk=2
    )
    assert list(deleted)[-1] == {"seen": 5, "done": 5, "skipped": 0}
    assert all(rt.job(job_id) is None for job_id in ids)
    with pytest.raises(control.BadInput, match="unknown action 'burn'"):
        list(
            control.act_on_matching(
                rt.backend, registry, "burn", None, "waiting", control.JobQuery()
            )
        )


def test_enter_on_a_failure_group_opens_its_jobs(tmp_path: Path, backend_url: str) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    group = {failed_job(rt, str(n), f"order {n} timed out") for n in range(3)}
    failed_job(rt, "9", "disk full")
    app = app_for(config)

    async def scenario(pilot: Any) -> None:
        await pilot.press("3")
        await until(lambda: len(rows(app)) == 2, "two groups")
        await pilot.press("enter")  # the largest group is first
        await until(
            lambda: isinstance(app.screen, JobsScreen) and set(rows(app)) == group, "its jobs"
        )
        assert 'signature:"ReportError: order <n> timed out"' in where_text(app)

    asyncio.run(run(app, scenario))


def test_enter_on_a_queue_opens_its_jobs(tmp_path: Path, sqlite_url: str) -> None:
    config = dashboard_config(tmp_path, sqlite_url)
    rt = Runtime(config=config)
    mine = set(rt.enqueue_many("testjobs.append", [{"path": "/dev/null", "text": "x"}] * 2))
    rt.enqueue("testjobs.append", {"path": "/dev/null", "text": "y"}, queue="other")
    app = app_for(config)

    async def scenario(pilot: Any) -> None:
        await until(lambda: "default" in rows(app), "the queue rows")
        await pilot.press("enter")  # the cursor starts on the first queue: default
        await until(
            lambda: isinstance(app.screen, JobsScreen) and set(rows(app)) == mine, "its jobs"
        )
        assert "waiting jobs of queue default" in where_text(app)

    asyncio.run(run(app, scenario))


@pytest.mark.redis
def test_a_backend_dropping_mid_bulk_ends_the_run_with_what_was_done(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    total = 50_000  # a hundred steps of 500: the run is still going when the server stops
    try:
        config = dashboard_config(tmp_path, server.url)
        rt = Runtime(config=config)
        for _ in range(total // 5_000):
            rt.enqueue_many("testjobs.append", [{"path": "/dev/null", "text": "x"}] * 5_000)
        app = app_for(config)
        shown = noted(app)

        ran: list[tuple[str, int]] = []  # the report and the count of jobs done

        async def scenario(pilot: Any) -> None:
            await pilot.press("2")
            await until(lambda: len(rows(app)) == 50, "the first page")
            await pilot.press("A", "d")
            await until(lambda: isinstance(app.screen, Confirm), "the confirmation")
            await pilot.press("enter")
            bulk = await until(lambda: isinstance(app.screen, BulkRun) and app.screen, "the run")
            await until(lambda: bulk.last.done >= 500, "the first step")
            server.stop()
            await until(lambda: bulk.finished, "the report", timeout=30)
            ran.append((str(bulk.query_one("#bulk-counts").render()), bulk.last.done))

        asyncio.run(run(app, scenario))
        ((report, done),) = ran
        server.start()
        left = rt.backend.queue_counts(["default"])["default"]["waiting"]
    finally:
        server.stop()
    assert report.startswith("stopped, the backend dropped (")
    assert "the step under way may or may not have been applied" in report
    assert f"{done:,} done, 0 skipped, 0 failed" in report and done < total
    assert done <= total - left <= done + 500  # nothing went but what was said, at most a step
    assert shown == []
