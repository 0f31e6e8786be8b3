"""The Plugins & cron screen (`8`) driven with Pilot against a real SQLite file and a real
redis-server: each cron job's next run (on the backend's clock, UTC), `n` enqueuing one
run of the selected cron job through the producer (audited, and a worker runs it), and
the refusals: read-only (no binding, nothing enqueued) and a job that is not cron."""

from __future__ import annotations

import asyncio
import datetime
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from runtime import control
from runtime.config import Config, load_config
from runtime.engine import RuntimeHuey
from runtime.errors import BadInput
from runtime.producer import Runtime
from tests.dashboard_helpers import app_for, noted, run, state, until
from tests.helpers import TEST_PLUGIN, write_config
from tui.app import DashboardApp
from tui.data import DashboardData, Refused
from tui.widgets.keyed_table import KeyedTable

CRON_PLUGIN = Path(__file__).parent / "plugins" / "testcron.py"
NEXT = 3  # the "next run" column of the cron table


def cron_config(tmp_path: Path, url: str) -> Config:
    return load_config(write_config(tmp_path, url, modules=(TEST_PLUGIN, CRON_PLUGIN)))


def cron_table(app: DashboardApp) -> KeyedTable:
    return app.screen.query_one("#cron", KeyedTable)


def cron_rows(app: DashboardApp) -> dict[str, tuple[Any, ...]]:
    return dict(cron_table(app)._rows)


def utc_now(rt: Runtime) -> datetime.datetime:
    """The backend's clock as the cron ticker sees time: naive UTC."""
    return datetime.datetime.fromtimestamp(rt.backend.now(), datetime.UTC).replace(tzinfo=None)


def next_hour(now: datetime.datetime) -> str:
    return (now.replace(minute=0, second=0, microsecond=0) + datetime.timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M"
    )


def next_six_am(now: datetime.datetime) -> str:
    six = now.replace(hour=6, minute=0, second=0, microsecond=0)
    return (six if six > now else six + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")


def jobs_named(rt: Runtime, queue: str, name: str) -> list[dict[str, Any]]:
    return [job for job in rt.backend.list_jobs(queue=queue, limit=100).jobs if job["job"] == name]


def run_now_audits(rt: Runtime) -> list[dict[str, Any]]:
    return [e for e in rt.backend.events.read(limit=100) if e.get("action") == "cron.run_now"]


async def on_cron_screen(pilot: Any, app: DashboardApp) -> None:
    await pilot.press("8")
    await until(lambda: len(cron_rows(app)) == 3, "the three cron jobs")


def test_each_cron_job_shows_its_next_run_on_the_backends_clock(
    tmp_path: Path, backend_url: str
) -> None:
    config = cron_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    before = utc_now(rt)
    app = app_for(config)
    shown: dict[str, tuple[Any, ...]] = {}

    async def scenario(pilot: Any) -> None:
        await on_cron_screen(pilot, app)
        shown.update(cron_rows(app))

    asyncio.run(run(app, scenario))
    after = utc_now(rt)  # an hour may turn while the screen reads: either side is right
    assert shown["testcron.hourly"][NEXT] in {next_hour(before), next_hour(after)}
    assert shown["testcron.report"][NEXT] in {next_six_am(before), next_six_am(after)}
    assert shown["testcron.report"][1:3] == ("0 6 * * *", "reports")
    assert shown["testcron.never"][NEXT] == "never"
    assert shown["testcron.never"][4:] == ("-", "-")  # never fired on this backend


def test_n_enqueues_one_run_of_the_selected_cron_job_and_audits_it(
    tmp_path: Path, backend_url: str
) -> None:
    config = cron_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    app = app_for(config)
    toasts = noted(app)

    async def scenario(pilot: Any) -> None:
        await on_cron_screen(pilot, app)
        table = cron_table(app)
        table.focus()
        table.move_cursor(row=table.get_row_index("testcron.report"))
        assert "n" in app.screen.active_bindings  # offered (read-only is not: below)
        await pilot.press("n")
        await until(lambda: jobs_named(rt, "reports", "testcron.report"), "the run")
        await until(lambda: any("enqueued" in text for text in toasts), "the toast")

    asyncio.run(run(app, scenario))
    (job,) = jobs_named(rt, "reports", "testcron.report")
    assert toasts == [f"enqueued one run of testcron.report: job {job['id']}"]
    assert [j["job"] for j in rt.backend.list_jobs(limit=100).jobs] == ["testcron.report"]
    (audit,) = run_now_audits(rt)
    assert (audit["job_id"], audit["job"], audit["queue"]) == (
        job["id"],
        "testcron.report",
        "reports",
    )
    assert "@" in audit["actor"]
    # Enqueued as any job is: a worker of its queue runs it.
    huey = RuntimeHuey("reports", rt.backend, list(rt.registry), lease_seconds=15, claim_timeout=0)
    task = huey.dequeue()
    assert task is not None
    huey.execute(task)
    assert state(rt, job["id"]) == "completed"


def test_a_read_only_dashboard_offers_no_run_now_and_enqueues_nothing(
    tmp_path: Path, backend_url: str
) -> None:
    config = cron_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    app = app_for(config, read_only=True)
    toasts = noted(app)
    offered: list[bool] = []

    async def scenario(pilot: Any) -> None:
        await on_cron_screen(pilot, app)
        offered.append("n" in app.screen.active_bindings)
        await pilot.press("n")
        await pilot.pause()

    asyncio.run(run(app, scenario))
    assert offered == [False] and toasts == []
    with pytest.raises(Refused, match="read-only"):
        DashboardData(config, read_only=True).run_cron_now("testcron.report")
    assert rt.backend.list_jobs(limit=100).jobs == [] and run_now_audits(rt) == []


@pytest.mark.parametrize(
    ("job", "why"), [("testcron.nope", "not a cron job"), ("testjobs.append", "not a cron job")]
)
def test_run_now_refuses_an_unknown_or_plain_job(
    tmp_path: Path, backend_url: str, job: str, why: str
) -> None:
    config = cron_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    with pytest.raises(BadInput, match=why):
        control.run_cron_now(rt.backend, config, rt.registry, job)
    with closing(DashboardData(config)) as data, pytest.raises(Refused, match=why):
        data.run_cron_now(job)  # the dashboard says the same sentence
    assert rt.backend.list_jobs(limit=100).jobs == [] and run_now_audits(rt) == []
