"""What the dashboard's Pilot tests share: a config on the test's backend, an app that
refreshes fast, waiting for what the worker threads read, and dead-lettered jobs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from runtime.backends.base.storage import Backend
from runtime.config import Config, load_config
from runtime.producer import Runtime
from tests.helpers import write_config
from tui.app import DashboardApp
from tui.data import DashboardData
from tui.keymap import CONTROL_ACTIONS
from tui.widgets.keyed_table import KeyedTable

SIZE = (120, 40)


def dashboard_config(tmp_path: Path, url: str) -> Config:
    return load_config(write_config(tmp_path, url))


def app_for(config: Config, read_only: bool = False) -> DashboardApp:
    return DashboardApp(DashboardData(config, read_only=read_only), refresh_seconds=0.2)


async def until(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Let the app run until `check()` is truthy (reads happen in worker threads)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def table(app: DashboardApp) -> KeyedTable:
    return app.screen.query_one(KeyedTable)


def rows(app: DashboardApp) -> dict[str, tuple[Any, ...]]:
    return dict(table(app)._rows)


def failed_job(rt: Runtime, text: str, message: str) -> str:
    """A job of testjobs.append dead-lettered with `message`."""
    job_id = rt.enqueue("testjobs.append", {"path": "/dev/null", "text": text})
    backend: Backend = rt.backend
    claim = backend.claim("default", 30, timeout=1)
    assert claim is not None and claim.job_id == job_id
    backend.fail(
        job_id, claim.token, {"type": "ReportError", "message": message, "traceback": None}
    )
    return job_id


def state(rt: Runtime, job_id: str) -> str | None:
    return (rt.job(job_id) or {}).get("state")


async def run(app: DashboardApp, scenario: Callable[[Any], Awaitable[None]]) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await scenario(pilot)


def noted(app: DashboardApp) -> list[str]:
    """Every toast's text, from now on (toasts from worker threads too)."""
    shown: list[str] = []
    app.notify = lambda message, **kw: shown.append(message)  # type: ignore[method-assign]
    return shown


def action_name(action: str) -> str:
    """`bulk('retry')` -> `bulk`: the method a binding's action string names."""
    return action.split("(", 1)[0]


def controls_offered(app: DashboardApp) -> set[str]:
    """The control actions the screen in front offers: in its footer, palette and keys."""
    active = app.screen.active_bindings.values()
    return {
        action_name(a.binding.action)
        for a in active
        if a.enabled and action_name(a.binding.action) in CONTROL_ACTIONS
    }
