"""The job detail (`enter` on a job) driven with Pilot against a real SQLite file and a
real redis-server: attempt N of M and the next retry, `e` retry with an edited payload
(refusals keep the text; audited with the changed field names), `y` copy as a
`runtime enqueue` command, `c` on a job a real daemon is running, refusals when
read-only and when the job changed state meanwhile."""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path
from typing import Any

from runtime import control
from runtime.engine import RuntimeHuey
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
    until,
)
from tests.helpers import Daemon, cli_json
from tui.app import DashboardApp
from tui.screens.confirm import Confirm
from tui.screens.edit_payload import EditPayload
from tui.screens.job_detail import JobDetail
from tui.widgets.keyed_table import KeyedTable


async def open_detail(app: DashboardApp, job_id: str) -> JobDetail:
    """The job's detail, once its first read is on screen."""
    await until(lambda: "default" in rows(app), "the home screen")
    detail = JobDetail(job_id)
    app.push_screen(detail)
    await until(lambda: detail.record is not None, "the detail's first read")
    return detail


def text_of(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector).render())


def test_the_detail_says_attempt_n_of_m_and_when_the_next_retry_runs(
    tmp_path: Path, backend_url: str
) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    job_id = rt.enqueue("diagnostics.fail", {"times": 9})  # retries=3: 4 attempts
    huey = RuntimeHuey("default", rt.backend, list(rt.registry), lease_seconds=15, claim_timeout=0)
    task = huey.dequeue()
    assert task is not None
    huey.execute(task)  # attempt 1 fails: retrying
    assert state(rt, job_id) == "retrying"
    app = app_for(config)

    async def scenario(pilot: Any) -> None:
        detail = await open_detail(app, job_id)
        summary = text_of(detail, "#summary")
        assert "retrying, attempt 1 of 4," in summary and "next retry " in summary

    asyncio.run(run(app, scenario))


def test_e_retries_with_an_edited_payload_and_a_refusal_keeps_the_text(
    tmp_path: Path, backend_url: str
) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    dead = failed_job(rt, "1", "order 1 failed")
    app = app_for(config)

    async def scenario(pilot: Any) -> None:
        detail = await open_detail(app, dead)
        await pilot.press("e")
        editor = await until(lambda: isinstance(app.screen, EditPayload) and app.screen, "editor")
        area = editor.query_one("#payload-text")
        assert json.loads(area.text) == {"path": "/dev/null", "text": "1"}
        for typed, why in (
            ('{"path": "/dev/null"}', "invalid payload for testjobs.append: missing field 'text'"),
            ('{"path": ', "not JSON: Expecting value at line 1, column 10."),
        ):
            area.text = typed
            await pilot.press("ctrl+s")
            await until(lambda w=why: w in text_of(editor, "#edit-error"), why)  # type: ignore[misc]
            assert area.text == typed and app.screen is editor
        area.text = '{"path": "/dev/null", "text": "fixed"}'
        await pilot.press("ctrl+s")
        await until(lambda: app.screen is detail, "the editor closed")
        await until(lambda: state(rt, dead) == "waiting", "the retry")

    asyncio.run(run(app, scenario))
    assert (rt.job(dead) or {})["payload"] == {"path": "/dev/null", "text": "fixed"}
    found, _ = control.read_events(rt.backend, limit=100, event_type="control")
    [event] = [e for e in found if e["action"] == "job.retry_edited"]
    assert event["job_id"] == dead and event["details"] == {"changed": ["text"]}


def test_y_copies_the_job_as_an_enqueue_command_that_runs(tmp_path: Path, backend_url: str) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    dead = failed_job(rt, "it's", "order 1 failed")  # a quote the shell quoting must keep
    app = app_for(config, read_only=True)  # copying is a read: offered read-only too
    shown = noted(app)

    async def scenario(pilot: Any) -> None:
        await open_detail(app, dead)
        await pilot.press("y")
        await until(lambda: app.clipboard, "the copy")

    asyncio.run(run(app, scenario))
    words = shlex.split(app.clipboard)
    assert words[:3] == ["runtime", "enqueue", "testjobs.append"]
    payload = '{"path": "/dev/null", "text": "it\'s"}'
    assert words[3:] == ["--payload", payload, "--queue", "default"]
    assert shown == [app.clipboard]
    enqueued = cli_json(*words[1:], "-c", str(tmp_path / "config.toml"))
    assert (rt.job(enqueued["id"]) or {})["payload"] == {"path": "/dev/null", "text": "it's"}


def test_c_cancels_a_job_a_daemon_is_running(tmp_path: Path, backend_url: str) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    marker = tmp_path / "running"
    job_id = rt.enqueue("testjobs.until_canceled", {"marker": str(marker)})
    app = app_for(config)
    shown = noted(app)

    async def scenario(pilot: Any) -> None:
        with Daemon(tmp_path / "config.toml"):
            await until(lambda: marker.exists(), "the job running", timeout=60)
            detail = await open_detail(app, job_id)
            await until(lambda: detail.record and detail.record["state"] == "active", "active")
            await pilot.press("c")
            await until(lambda: isinstance(app.screen, Confirm), "the confirmation")
            await pilot.press("enter")
            await until(lambda: state(rt, job_id) == "canceled", "the cancel", timeout=60)
            await until(lambda: "canceled" in text_of(detail, "#summary"), "the detail's state")

    asyncio.run(run(app, scenario))
    assert shown == ["asked to stop: recorded canceled once it does"]


def test_an_action_on_a_job_that_changed_state_meanwhile_says_so(
    tmp_path: Path, backend_url: str
) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    dead = failed_job(rt, "1", "order 1 failed")
    app = app_for(config)
    shown = noted(app)

    async def scenario(pilot: Any) -> None:
        detail = await open_detail(app, dead)
        control.retry_job(rt.backend, rt.registry, dead)  # someone else retried it
        await pilot.press("r", "enter")
        await until(lambda: shown, "the refusal")
        await until(lambda: (detail.record or {}).get("state") == "waiting", "the new state")
        await pilot.press("e")
        await until(lambda: len(shown) == 2, "the edit's refusal")
        assert not isinstance(app.screen, EditPayload)

    asyncio.run(run(app, scenario))
    assert shown == [f"job {dead} is waiting; only failed or canceled jobs retry."] * 2


def test_a_read_only_detail_refuses_the_edited_retry(tmp_path: Path, backend_url: str) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    dead = failed_job(rt, "1", "order 1 failed")
    app = app_for(config, read_only=True)
    shown = noted(app)

    async def scenario(pilot: Any) -> None:
        await open_detail(app, dead)
        await pilot.press("e", "c")
        assert isinstance(app.screen, JobDetail)
        assert controls_offered(app) == set()

    asyncio.run(run(app, scenario))
    assert shown == []
    assert state(rt, dead) == "failed"


def test_enter_on_a_job_opens_its_detail(tmp_path: Path, sqlite_url: str) -> None:
    config = dashboard_config(tmp_path, sqlite_url)
    rt = Runtime(config=config)
    job_id = rt.enqueue("testjobs.append", {"path": "/dev/null", "text": "x"})
    app = app_for(config)

    async def scenario(pilot: Any) -> None:
        await pilot.press("2")
        await until(lambda: set(rows(app)) == {job_id}, "the job")
        app.screen.query_one(KeyedTable).focus()
        await pilot.press("enter")
        detail = await until(lambda: isinstance(app.screen, JobDetail) and app.screen, "detail")
        await until(lambda: "waiting, attempt 0 of 1," in text_of(detail, "#summary"), "summary")

    asyncio.run(run(app, scenario))
