"""The dashboard driven with Pilot (`App.run_test`) against a real SQLite file and a real
redis-server: screens show what the backend holds, controls change it (audited), the
read-only dashboard refuses, and an outage shows `disconnected` and recovers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from runtime.producer import Runtime
from tests.dashboard_helpers import (
    app_for,
    controls_offered,
    dashboard_config,
    failed_job,
    noted,
    rows,
    run,
    state,
    table,
    until,
)
from tests.redis_server import RedisServer
from tui.screens.bulk import BulkRun
from tui.screens.confirm import Confirm
from tui.screens.job_detail import JobDetail
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.status_header import StatusHeader


# -- queues (home) ---------------------------------------------------------------------------
def test_the_home_screen_lists_queues_and_updates_rows_in_place(
    tmp_path: Path, backend_url: str
) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    rt.enqueue_many("testjobs.append", [{"path": "/dev/null", "text": "x"}] * 3)
    app = app_for(config)

    async def scenario(pilot: Any) -> None:
        await until(lambda: "default" in rows(app), "the default queue row")
        assert rows(app)["default"][2] == "3"  # waiting
        row_key = table(app).get_row_index("default")
        rt.enqueue("testjobs.append", {"path": "/dev/null", "text": "y"}, queue="other")
        await until(
            lambda: rows(app).get("default", ("",) * 3)[2] == "3" and "other" in rows(app), "other"
        )
        assert table(app).get_row_index("default") == row_key  # the row stayed where it was
        header = app.screen.query_one(StatusHeader)
        assert "connected" in str(header.render())

    asyncio.run(run(app, scenario))


def test_p_pauses_and_resumes_the_selected_queue_after_confirmation(
    tmp_path: Path, backend_url: str
) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    app = app_for(config)

    async def scenario(pilot: Any) -> None:
        await until(lambda: "default" in rows(app), "the default queue row")
        await pilot.press("p")
        await until(lambda: isinstance(app.screen, Confirm), "the confirmation")
        await pilot.press("n")  # refused: nothing changes
        await pilot.pause(0.3)
        assert rt.backend.paused_queues() == set()
        await pilot.press("p", "enter")
        await until(lambda: rt.backend.paused_queues() == {"default"}, "the pause")
        await until(lambda: rows(app)["default"][0] == "⏸", "the paused mark")
        await pilot.press("p", "y")
        await until(lambda: rt.backend.paused_queues() == set(), "the resume")

    asyncio.run(run(app, scenario))
    actions = [e.get("action") for e in rt.backend.events.read(limit=100)]
    assert actions.count("queue.pause") == 1 and actions.count("queue.resume") == 1


# -- jobs and job detail ---------------------------------------------------------------------
def test_jobs_screen_pages_a_state_and_the_detail_retries_a_failed_job(
    tmp_path: Path, backend_url: str
) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    dead = [failed_job(rt, str(n), f"order {n} failed") for n in range(3)]
    rt.enqueue_many("testjobs.append", [{"path": "/dev/null", "text": str(n)} for n in range(60)])
    app = app_for(config)

    async def scenario(pilot: Any) -> None:
        await pilot.press("2")
        await until(lambda: len(rows(app)) == 50, "a first page of 50 waiting jobs")
        await pilot.press("l")
        await until(lambda: len(rows(app)) == 10, "the second page")
        await pilot.press("h")
        await until(lambda: len(rows(app)) == 50, "the first page again")
        app.screen.query_one("#states").active = "failed"  # type: ignore[attr-defined]
        await until(lambda: set(rows(app)) == set(dead), "the failed jobs")
        table(app).move_cursor(row=table(app).get_row_index(dead[0]))
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, JobDetail), "the job detail")
        await pilot.press("r", "enter")
        await until(lambda: state(rt, dead[0]) == "waiting", "the retry")

    asyncio.run(run(app, scenario))
    retried = [e for e in rt.backend.events.read(limit=200) if e.get("action") == "job.retry"]
    assert [e["job_id"] for e in retried] == [dead[0]]


def test_the_detail_cancels_and_deletes_a_waiting_job(tmp_path: Path, backend_url: str) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    first, second = (rt.enqueue("testjobs.append", {"path": "/dev/null", "text": t}) for t in "ab")
    app = app_for(config)

    async def scenario(pilot: Any) -> None:
        await pilot.press("2")
        await until(lambda: set(rows(app)) == {first, second}, "both jobs")
        table(app).move_cursor(row=table(app).get_row_index(first))
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, JobDetail), "the detail")
        await pilot.press("c", "enter")
        await until(lambda: state(rt, first) == "canceled", "the cancel")
        await pilot.press("escape")
        table(app).move_cursor(row=table(app).get_row_index(second))
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, JobDetail), "the detail")
        await pilot.press("d", "enter")
        await until(lambda: rt.job(second) is None, "the delete")

    asyncio.run(run(app, scenario))


def test_a_bad_filter_says_why_and_id_jumps_to_the_job(tmp_path: Path, backend_url: str) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    ids = rt.enqueue_many("testjobs.append", [{"path": "/dev/null", "text": "x"}] * 3)
    app = app_for(config)
    shown = noted(app)

    async def scenario(pilot: Any) -> None:
        await pilot.press("2")
        await until(lambda: len(rows(app)) == 3, "the jobs")
        await pilot.press("slash")
        await pilot.press(*"color:red", "enter")
        await until(lambda: shown, "the refusal")
        assert shown == [
            "unknown qualifier 'color:'; use job:, id:, payload.FIELD:, error:, signature:."
        ]
        app.screen.query_one("#filter").value = f"id:{ids[1][:10]}"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, JobDetail), "the job's detail")
        assert app.screen.job_id == ids[1]  # type: ignore[attr-defined]
        await pilot.press("escape")
        await until(lambda: set(rows(app)) == {ids[1]}, "the one job in the table")

    asyncio.run(run(app, scenario))


# -- failures --------------------------------------------------------------------------------
def test_failures_are_grouped_by_signature_and_a_group_retried_at_once(
    tmp_path: Path, backend_url: str
) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    timeouts = [failed_job(rt, str(n), f"order {n} timed out after {n * 3} s") for n in range(4)]
    other = failed_job(rt, "x", "printer on fire")
    app = app_for(config)

    async def scenario(pilot: Any) -> None:
        await pilot.press("3")
        await until(lambda: len(rows(app)) == 2, "two groups")
        first, second = rows(app).values()
        assert first[0] == "4" and first[3] == "ReportError: order <n> timed out after <n> s"
        assert second[0] == "1" and second[3] == "ReportError: printer on fire"
        await pilot.press("r", "enter")
        await until(lambda: all(state(rt, i) == "waiting" for i in timeouts), "the group retry")
        await until(lambda: len(rows(app)) == 1, "one group left")

    asyncio.run(run(app, scenario))
    assert state(rt, other) == "failed"


# -- read-only -------------------------------------------------------------------------------
def test_a_read_only_dashboard_refuses_every_action(tmp_path: Path, backend_url: str) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    dead = failed_job(rt, "1", "boom")
    app = app_for(config, read_only=True)
    shown = noted(app)

    async def scenario(pilot: Any) -> None:
        await until(lambda: "default" in rows(app), "the queue")
        assert "read-only" in str(app.screen.query_one(StatusHeader).render())
        await pilot.press("p", "P")
        assert controls_offered(app) == set()
        await pilot.press("3")
        await until(lambda: len(rows(app)) == 1, "the failure group")
        await pilot.press("r", "d")
        assert controls_offered(app) == set()
        await pilot.press("2")
        app.screen.query_one("#states").active = "failed"  # type: ignore[attr-defined]
        await until(lambda: set(rows(app)) == {dead}, "the failed job")
        await pilot.press("x", "A", "r", "c", "d")
        assert controls_offered(app) == set()
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, JobDetail), "the detail")
        await pilot.press("r", "c", "d", "e")
        assert controls_offered(app) == set()
        assert isinstance(app.screen, JobDetail)

    asyncio.run(run(app, scenario))
    assert shown == []  # the keys of controls are not bound at all
    assert state(rt, dead) == "failed" and rt.backend.paused_queues() == set()
    assert [e for e in rt.backend.events.read(limit=100) if e.get("actor")] == []


# -- disconnected ----------------------------------------------------------------------------
@pytest.mark.redis
def test_a_stopped_redis_shows_disconnected_and_the_dashboard_recovers(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    try:
        config = dashboard_config(tmp_path, server.url)
        Runtime(config=config).enqueue("testjobs.append", {"path": "/dev/null", "text": "x"})
        app = app_for(config)

        def header() -> str:
            return str(app.screen.query_one(StatusHeader).render())

        async def scenario(pilot: Any) -> None:
            await until(lambda: "default" in rows(app), "the queue")
            server.stop()
            await until(lambda: "disconnected" in header(), "the disconnected state")
            assert rows(app)["default"][2] == "1"  # the last data stays on screen
            assert app.screen.has_class("stale")
            server.start()
            await until(lambda: "disconnected" not in header(), "the recovery", timeout=15)
            assert not app.screen.has_class("stale")

        asyncio.run(run(app, scenario))
    finally:
        server.stop()


# -- metrics, plugins & cron, workers, alerts, events -------------------------------------------
def test_metrics_plugins_and_cron_screens_show_what_the_backend_holds(
    tmp_path: Path, backend_url: str
) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    failed_job(rt, "1", "boom")
    rt.backend.metrics.add("default", {("testjobs.append", int(rt.backend.now() // 60)): _bucket()})
    app = app_for(config)

    async def scenario(pilot: Any) -> None:
        await pilot.press("7")
        await until(lambda: "testjobs.append" in rows(app), "the per-job metrics row")
        assert rows(app)["testjobs.append"][1:3] == ("2", "1")  # completed, failed
        await pilot.press("8")
        plugins = app.screen.query_one("#plugins", KeyedTable)
        await until(lambda: plugins.row_count, "the plugins")
        assert any("testjobs.append" in str(cells[2]) for cells in plugins._rows.values())
        await pilot.press("6")
        await until(lambda: any(cells[1] == "failed" for cells in rows(app).values()), "events")

    asyncio.run(run(app, scenario))


def _bucket() -> Any:
    from runtime.backends.base.metrics import OUTCOMES, MetricBucket

    bucket = MetricBucket()
    bucket.counts[OUTCOMES.index("completed")] = 2
    bucket.counts[OUTCOMES.index("failed")] = 1
    return bucket


def test_x_selects_jobs_and_a_bulk_delete_reports_what_it_did(
    tmp_path: Path, backend_url: str
) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    ids = rt.enqueue_many("testjobs.append", [{"path": "/dev/null", "text": "x"}] * 4)
    app = app_for(config)

    async def scenario(pilot: Any) -> None:
        await pilot.press("2")
        await until(lambda: len(rows(app)) == 4, "the jobs")
        table(app).focus()
        table(app).move_cursor(row=0)
        first, second = list(rows(app))[:2]
        await pilot.press("x", "x")  # selects the row under the cursor, then the next
        await until(lambda: rows(app)[first][0].startswith("●"), "the selection mark")
        rt.backend.delete(second)  # gone meanwhile: the bulk action skips it
        await pilot.press("d", "enter")
        bulk = await until(lambda: isinstance(app.screen, BulkRun) and app.screen, "the run")
        await until(lambda: bulk.finished, "the end of the run")
        assert (bulk.last.done, bulk.last.skipped, bulk.last.failed) == (1, 1, 0)
        assert "1 done, 1 skipped, 0 failed" in str(bulk.query_one("#bulk-counts").render())
        await pilot.press("enter")
        await until(lambda: len(rows(app)) == 2, "the two jobs left")

    asyncio.run(run(app, scenario))
    assert sum(rt.job(i) is not None for i in ids) == 2


def test_the_detail_shows_the_jobs_timeline(tmp_path: Path, backend_url: str) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    dead = failed_job(rt, "1", "order 9 failed")
    app = app_for(config)

    async def scenario(pilot: Any) -> None:
        await pilot.press("2")
        app.screen.query_one("#states").active = "failed"  # type: ignore[attr-defined]
        await until(lambda: set(rows(app)) == {dead}, "the failed job")
        await pilot.press("enter")
        detail = await until(lambda: isinstance(app.screen, JobDetail) and app.screen, "detail")
        text = await until(lambda: str(detail.query_one("#timeline").render()), "the timeline")
        lines = [line.split()[2:] for line in text.splitlines()[1:]]
        assert [words[0] for words in lines] == ["enqueued", "started", "failed"]
        assert lines[1][1:] == ["attempt", "1"] and "ReportError:" in lines[2]

    asyncio.run(run(app, scenario))


def test_j_and_k_move_the_cursor_on_every_table_screen(tmp_path: Path, sqlite_url: str) -> None:
    config = dashboard_config(tmp_path, sqlite_url)
    rt = Runtime(config=config)
    rt.enqueue_many("testjobs.append", [{"path": "/dev/null", "text": "x"}] * 3)
    app = app_for(config)

    async def scenario(pilot: Any) -> None:
        await pilot.press("2")
        await until(lambda: len(rows(app)) == 3, "the jobs")
        await pilot.press("j", "j")
        assert table(app).cursor_row == 2
        await pilot.press("k")
        assert table(app).cursor_row == 1

    asyncio.run(run(app, scenario))
