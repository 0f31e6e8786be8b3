"""The workers (`4`), alerts (`5`) and events (`6`) screens driven with Pilot against a real
SQLite file and a real redis-server: stale heartbeats and stalled jobs are shown and a
stalled job requeued (audited), alerts resolved and announced wherever you are, and the
event log filtered by type, queue and job id."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from runtime import control
from runtime.backends.base.storage import Backend
from runtime.errors import BadInput
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
from tui.app import DashboardApp
from tui.screens.confirm import Confirm
from tui.widgets.keyed_table import KeyedTable


def _table(app: DashboardApp, table_id: str) -> dict[str, tuple[Any, ...]]:
    return dict(app.screen.query_one(f"#{table_id}", KeyedTable)._rows)


def _beat(backend: Backend, worker_id: str, age: float, current: list[str]) -> None:
    info = {"kind": "worker", "host": "h1", "pid": 7, "queues": ["default"], "processed": 3}
    info |= {"heartbeat": time.time() - age, "current_jobs": current, "rss": 2**20}
    backend.put_worker(worker_id, info, ttl=120)


def _running_and_stalled(rt: Runtime) -> tuple[str, str]:
    """A job a live worker (w-live) runs, and one whose lease ran out (stalled)."""
    backend: Backend = rt.backend
    running, stalled = rt.enqueue_many("testjobs.append", [{"path": "/dev/null", "text": "x"}] * 2)
    backend.worker_id = "w-live"
    try:
        assert backend.claim("default", 30, timeout=1).job_id == running  # type: ignore[union-attr]
    finally:
        backend.worker_id = None
    assert backend.claim("default", 30, timeout=1).job_id == stalled  # type: ignore[union-attr]
    assert backend.cluster.expire_lease("default", stalled)  # as if its worker had hung
    _beat(backend, "w-live", 0, [running])
    _beat(backend, "w-stale", 11, [])  # 2 intervals (1 s in tests) missed: stale, not dead
    return running, stalled


# -- workers ---------------------------------------------------------------------------------
def test_workers_show_stale_heartbeats_and_r_requeues_a_stalled_job(
    tmp_path: Path, backend_url: str
) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    running, stalled = _running_and_stalled(rt)
    app = app_for(config)

    async def scenario(pilot: Any) -> None:
        await pilot.press("4")

        def marks() -> tuple[str, str]:
            _beat(rt.backend, "w-live", 0, [running])  # a live worker keeps beating
            workers = _table(app, "workers")
            return workers.get("w-live", ("",) * 3)[2], workers.get("w-stale", ("",) * 3)[2]

        # On Redis a beat's time is the server's at the beat: w-stale goes stale as it ages.
        await until(lambda: marks() == ("live", "stale"), "a live and a stale worker")
        assert _table(app, "workers")["w-live"][6].startswith(running[:8] + " ")  # running for
        await until(lambda: stalled in _table(app, "stalled"), "the stalled job")
        assert list(_table(app, "stalled")) == [stalled]  # the live worker's job is not
        assert _table(app, "stalled")[stalled][4] == "lease expired"
        await pilot.press("r")
        await until(lambda: isinstance(app.screen, Confirm), "the confirmation")
        await pilot.press("n")
        assert state(rt, stalled) == "active"
        await pilot.press("r", "y")
        await until(lambda: state(rt, stalled) == "waiting", "the requeue")
        await until(lambda: not _table(app, "stalled"), "no stalled job left")

    asyncio.run(run(app, scenario))
    assert state(rt, running) == "active"
    (audit,) = [e for e in rt.backend.events.read(limit=100) if e.get("action") == "job.requeue"]
    assert audit["job_id"] == stalled and "@" in audit["actor"]


def test_requeue_stalled_refuses_a_job_a_live_worker_holds(
    tmp_path: Path, backend_url: str
) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    running, _ = _running_and_stalled(rt)
    dead = failed_job(rt, "1", "boom")
    for job_id, why in ((running, "running under a live worker"), (dead, "is failed")):
        with pytest.raises(BadInput, match=why):
            control.requeue_stalled(rt.backend, config, job_id)
    assert state(rt, running) == "active"


def test_read_only_refuses_requeue_and_resolve(tmp_path: Path, backend_url: str) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    _, stalled = _running_and_stalled(rt)
    alert = _fire(rt.backend)
    app = app_for(config, read_only=True)
    shown = noted(app)

    async def scenario(pilot: Any) -> None:
        await pilot.press("4")
        await until(lambda: stalled in _table(app, "stalled"), "the stalled job")
        await pilot.press("r")
        assert controls_offered(app) == set()
        await pilot.press("5")
        await until(lambda: str(alert["id"]) in rows(app), "the alert")
        await pilot.press("a", "R")
        assert controls_offered(app) == set()
        assert not isinstance(app.screen, Confirm)

    asyncio.run(run(app, scenario))
    assert shown == []
    assert state(rt, stalled) == "active"
    assert rt.backend.alerts.get(alert["id"])["state"] == "firing"  # type: ignore[index]


# -- alerts ----------------------------------------------------------------------------------
def _fire(backend: Backend, queue: str = "default") -> dict[str, Any]:
    """A stored firing alert, with a live evaluator (the home shows stored alerts then)."""
    backend.alerts.mark_evaluated(backend.now())
    alert = backend.alerts.fire("no_worker", "critical", queue, f"{queue}: no worker", time.time())
    assert alert is not None
    return alert


def test_r_resolves_the_selected_alert_and_a_new_one_raises_a_toast(
    tmp_path: Path, backend_url: str
) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    old = _fire(rt.backend)
    app = app_for(config)
    toasts: list[tuple[str, str]] = []

    async def scenario(pilot: Any) -> None:
        notify = app.notify

        def seen(message: str, **kw: Any) -> None:
            toasts.append((message, kw.get("title", "")))
            notify(message, **kw)

        app.notify = seen  # type: ignore[method-assign]
        await pilot.press("5")
        await until(lambda: str(old["id"]) in rows(app), "the alert")
        await pilot.press("R")
        await until(lambda: rows(app)[str(old["id"])][1] == "resolved", "the resolved alert")
        await pilot.press("2")  # wherever you are
        await until(lambda: app.home is not None, "the first home read")
        new = _fire(rt.backend, "reports")
        await until(lambda: ("reports: no worker", "alert no_worker") in toasts, "the toast")
        assert new["id"] != old["id"]

    asyncio.run(run(app, scenario))
    assert ("default: no worker", "alert no_worker") not in toasts  # it was firing at start
    actions = [e.get("action") for e in rt.backend.events.read(limit=100)]
    assert actions.count("alert.resolve") == 1


# -- events ----------------------------------------------------------------------------------
def test_events_filter_by_type_queue_and_job_and_show_who_acted(
    tmp_path: Path, backend_url: str
) -> None:
    config = dashboard_config(tmp_path, backend_url)
    rt = Runtime(config=config)
    dead = failed_job(rt, "1", "boom")
    other = rt.enqueue("testjobs.append", {"path": "/dev/null", "text": "y"}, queue="reports")
    control.pause_queue(rt.backend, config, "reports")
    app = app_for(config)
    shown: list[str] = []

    def types() -> set[str]:
        return {cells[1] for cells in rows(app).values()}

    async def apply(pilot: Any, text: str) -> None:
        await pilot.press("slash")
        app.screen.query_one("#filter").value = text  # type: ignore[attr-defined]
        await pilot.press("enter")

    async def scenario(pilot: Any) -> None:
        notify = app.notify
        app.notify = lambda message, **kw: (shown.append(message), notify(message, **kw))  # type: ignore[method-assign]
        await pilot.press("6")
        await until(lambda: {"enqueued", "failed", "control"} <= types(), "every event")
        await pilot.press("space")  # the table has the focus, not the hidden filter box
        assert app.screen.paused  # type: ignore[attr-defined]
        await pilot.press("space")
        assert shown == ["paused", "live"]
        shown.clear()
        await apply(pilot, "type:failed")
        await until(lambda: types() == {"failed"}, "failed events only")
        await apply(pilot, "queue:reports")
        await until(lambda: types() == {"enqueued", "control"}, "the reports queue's events")
        control_row = next(cells for cells in rows(app).values() if cells[1] == "control")
        assert "@" in control_row[5] and control_row[6] == "queue.pause"  # who did what
        await apply(pilot, f"job:{dead[:10]}")  # a prefix, as the table shows ids
        await until(lambda: types() == {"enqueued", "started", "failed"}, "one job's events")
        assert all(cells[4] == dead[:12] for cells in rows(app).values())
        await apply(pilot, "color:red")
        await until(lambda: shown, "the refusal")
        await apply(pilot, "type:nope")
        await until(lambda: len(shown) == 2, "the second refusal")
        await pilot.press("escape")
        await until(lambda: other[:12] in {c[4] for c in rows(app).values()}, "unfiltered")

    asyncio.run(run(app, scenario))
    assert shown[0] == "unknown qualifier 'color:'; use type:, queue:, job:."
    assert shown[1].startswith("unknown event type 'nope'; use enqueued, started,")
