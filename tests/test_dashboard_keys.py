"""Keys of the dashboard: `[dashboard.keys]` remaps bindings by id (a bad keymap is refused
with one sentence and exit 2), the command palette offers every screen and the current
screen's actions, and purging a queue from the Queues screen asks for its name."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from runtime.config import load_config
from runtime.producer import Runtime
from tests.dashboard_helpers import app_for, noted, rows, run, until
from tests.helpers import run_cli, write_config
from tui.app import DashboardApp
from tui.screens.confirm import Confirm, ConfirmByName
from tui.screens.failures import FailuresScreen
from tui.screens.queues import QueuesScreen


def _config(tmp_path: Path, url: str, keys: str = "") -> Path:
    return write_config(tmp_path, url, extra=f"[dashboard.keys]\n{keys}" if keys else "")


def _palette_titles(app: DashboardApp) -> set[str]:
    return {command.title for command in app.get_system_commands(app.screen)}


# -- the keymap ------------------------------------------------------------------------------
def test_the_keymap_moves_a_binding_to_other_keys(tmp_path: Path, sqlite_url: str) -> None:
    path = _config(tmp_path, sqlite_url, 'pause = "z"\n"screen.failures" = "f,3"\n')
    app = app_for(load_config(path))

    async def scenario(pilot: Any) -> None:
        await until(lambda: "default" in rows(app), "the queue")
        await pilot.press("p")  # no longer bound
        assert isinstance(app.screen, QueuesScreen)
        await pilot.press("z")
        assert isinstance(app.screen, Confirm)
        await pilot.press("escape", "f")
        assert isinstance(app.screen, FailuresScreen)

    asyncio.run(run(app, scenario))


@pytest.mark.parametrize(
    ("keys", "said"),
    [
        (
            'retyr = "R"\n',
            "runtime: [dashboard.keys]: no dashboard binding has the id retyr; the ids are ack,",
        ),
        (
            'retry = "d"\n',
            "runtime: [dashboard.keys]: d would do both delete and retry on FailuresScreen; "
            "give one of them another key.\n",
        ),
        (
            'retry = "ctrl r"\n',
            "runtime: [dashboard.keys] retry = 'ctrl r': give keys such as 'R' or 'ctrl+r,R'.\n",
        ),
        ("keys = 3\n", "key 'dashboard.keys.keys' expected a string, got int.\n"),
    ],
)
def test_a_bad_keymap_is_refused_before_the_dashboard_starts(
    tmp_path: Path, sqlite_url: str, keys: str, said: str
) -> None:
    config = str(_config(tmp_path, sqlite_url, keys))
    done = run_cli("dashboard", "-c", config)
    assert done.returncode == 2
    assert done.stderr.startswith("runtime: ") and said in done.stderr
    assert done.stderr.count("\n") == 1


# -- the command palette ---------------------------------------------------------------------
def test_the_palette_goes_to_a_screen_and_runs_an_action(tmp_path: Path, sqlite_url: str) -> None:
    app = app_for(load_config(_config(tmp_path, sqlite_url)))

    async def scenario(pilot: Any) -> None:
        await until(lambda: "default" in rows(app), "the queue")
        titles = _palette_titles(app)
        assert {"Go to Failures", "Go to Plugins & cron", "Pause/resume", "Purge"} <= titles
        await pilot.press("colon", *"Go to Failures")
        await until(lambda: _highlighted(app) == "Go to Failures", "the command found")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, FailuresScreen), "the Failures screen")
        await pilot.press("1", "ctrl+p", *"Pause/resume")
        await until(lambda: _highlighted(app) == "Pause/resume", "the action found")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, Confirm), "the pause confirmation")

    asyncio.run(run(app, scenario))


def _highlighted(app: DashboardApp) -> str | None:
    """The title of the command the open palette would run on enter."""
    from textual.command import CommandList

    lists = app.screen.query(CommandList)
    if not lists or lists.first().highlighted is None:
        return None
    option = lists.first().get_option_at_index(lists.first().highlighted or 0)
    return str(option.prompt).split("\n")[0]


def test_a_read_only_palette_offers_no_control(tmp_path: Path, sqlite_url: str) -> None:
    app = app_for(load_config(_config(tmp_path, sqlite_url)), read_only=True)

    async def scenario(pilot: Any) -> None:
        await until(lambda: "default" in rows(app), "the queue")
        titles = _palette_titles(app)
        assert {"Go to Jobs", "Keys", "Quit"} <= titles  # reads stay
        assert not {"Pause/resume", "Purge"} & titles

    asyncio.run(run(app, scenario))


# -- purge -----------------------------------------------------------------------------------
def _purge_typing(app: DashboardApp, pilot: Any, typed: str) -> Any:
    async def steps() -> None:
        await pilot.press("P")
        assert isinstance(app.screen, ConfirmByName)
        await pilot.press(*typed, "enter")

    return steps()


def test_purge_deletes_the_queue_once_its_name_is_typed(tmp_path: Path, backend_url: str) -> None:
    config = load_config(_config(tmp_path, backend_url))
    rt = Runtime(config=config)
    jobs = [rt.enqueue("testjobs.append", {"path": "/dev/null", "text": str(n)}) for n in range(3)]
    app = app_for(config)
    shown = noted(app)

    async def scenario(pilot: Any) -> None:
        await until(lambda: rows(app).get("default", ())[2:3] == ("3",), "3 waiting")
        await _purge_typing(app, pilot, "defaul")
        await until(lambda: shown, "the refusal")
        assert all(rt.job(job_id) for job_id in jobs)
        await pilot.press("P", "escape")
        assert isinstance(app.screen, QueuesScreen) and all(rt.job(j) for j in jobs)
        await _purge_typing(app, pilot, "default")
        await until(lambda: not any(rt.job(job_id) for job_id in jobs), "the purge")
        await until(lambda: len(shown) == 2, "the purge's toast")

    asyncio.run(run(app, scenario))
    assert shown == ["you typed 'defaul', not default; nothing was purged.", "done"]
    (audit,) = [e for e in rt.backend.events.read(limit=100) if e.get("action") == "queue.purge"]
    assert audit["actor"] and audit["queue"] == "default"
