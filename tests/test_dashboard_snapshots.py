"""Snapshot tests (pytest-textual-snapshot) of every dashboard screen at 120x40 and 80x24,
on a SQLite file holding fixed jobs. Times and ages are replaced by a fixed text (they
change from run to run); ids, names and counts are fixed. `pytest --snapshot-update`
rewrites the snapshots after a deliberate change; look at the SVGs before committing."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import Any

import pytest

from runtime import cron
from runtime.backends.base.storage import NewJob
from runtime.config import load_config
from runtime.messages import compose
from runtime.producer import Runtime
from tui.app import DashboardApp
from tui.data import DashboardData
from tui.screens import alerts, events, failures, job_detail, jobs, queues, workers
from tui.widgets.keyed_table import KeyedTable

SCREENS = ["1", "2", "3", "4", "5", "6", "7", "8"]
SIZES = [(120, 40), (80, 24)]
PLUGINS = Path(__file__).parent / "plugins"
FIXED_NEXT_RUN = datetime.datetime(2030, 1, 1, 6, 0)


@pytest.fixture
def fixed_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DashboardApp:
    for module in (alerts, events, failures, job_detail, jobs, queues, workers):
        for name in ("when", "age"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, lambda *_: "<t>")
    # A cron job's next run moves with the clock: a fixed one (a real width on screen).
    monkeypatch.setattr(cron, "next_run", lambda spec, after: FIXED_NEXT_RUN)
    monkeypatch.chdir(tmp_path)
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        '[runtime]\nbackend = "sqlite:///rt.db"\n\n[queues.default]\nworkers = 2\n\n'
        "[queues.reports]\nworkers = 1\n\n[plugins]\nautoload = false\n"
        f'modules = ["{PLUGINS / "testjobs.py"}", "{PLUGINS / "testcron.py"}"]\n'
    )
    config = load_config(config_path)
    backend = Runtime(config=config).backend
    for n in range(6):
        queue = "default" if n < 4 else "reports"
        payload = f'{{"path": "/dev/null", "text": "{n}"}}'
        data = compose(f"job-{n:04d}", "testjobs.append", payload, {"priority": 0})
        backend.push(NewJob(id=f"job-{n:04d}", job="testjobs.append", queue=queue, data=data))
    claim = backend.claim("default", 30, timeout=1)
    assert claim is not None
    error = {"type": "ReportError", "message": "order 7 failed", "traceback": None}
    backend.fail(claim.job_id, claim.token, error)
    return DashboardApp(DashboardData(config), refresh_seconds=0.2)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("key", SCREENS)
def test_screen_snapshot(snap_compare: Any, fixed_app: DashboardApp, key: str, size: Any) -> None:
    async def loaded(pilot: Any) -> None:
        await pilot.press(key)
        for _ in range(400):  # the reads run in worker threads; a loaded CI machine is slow
            await asyncio.sleep(0.05)
            if _loaded(pilot.app):
                break
        await asyncio.sleep(0.3)
        seen.append(_state(pilot.app))

    seen: list[str] = []
    assert snap_compare(fixed_app, terminal_size=size, run_before=loaded), seen


def _loaded(app: Any) -> bool:
    screen = app.screen
    return app.home is not None and app.error is None and (screen.shown or not screen.own_data)


def _state(app: Any) -> str:
    """What the screen held when the snapshot was taken: says why one did not match."""
    tables = {t.id: t.row_count for t in app.screen.query(KeyedTable)}
    return f"error={app.error!r} home={app.home is not None} tables={tables}"
