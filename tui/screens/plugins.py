"""Plugins & cron (`8`): the plugins loaded here with version, jobs, hooks and load error,
and the cron jobs with their schedule, last run and the daemon that fired it."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.widgets import Static

from tui.screens.base import PolledScreen
from tui.widgets.keyed_table import KeyedTable

PLUGIN_COLUMNS = ("plugin", "version", "jobs", "hooks", "error")
CRON_COLUMNS = ("cron job", "schedule", "queue", "last run", "fired by")


class PluginsScreen(PolledScreen):
    def body(self) -> ComposeResult:
        yield Static("plugins", classes="section")
        yield KeyedTable(PLUGIN_COLUMNS, id="plugins")
        yield Static("cron", classes="section")
        yield KeyedTable(CRON_COLUMNS, id="cron")

    def fetch(self) -> Any:
        return self.dashboard.data.plugins_and_cron()

    def show(self, data: Any) -> None:
        plugins, cron = data
        self.query_one("#plugins", KeyedTable).sync(
            {info["name"]: _plugin_cells(info) for info in plugins}
        )
        self.query_one("#cron", KeyedTable).sync({row["job"]: _cron_cells(row) for row in cron})


def _plugin_cells(info: dict[str, Any]) -> tuple[Any, ...]:
    return (
        info["name"],
        info.get("version") or "-",
        ", ".join(info.get("jobs") or []) or "-",
        ", ".join(info.get("hooks") or []) or "-",
        info.get("error") or "",
    )


def _cron_cells(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["job"],
        row["cron"],
        row["queue"],
        row.get("last_tick") or "-",
        row.get("by") or "-",
    )
