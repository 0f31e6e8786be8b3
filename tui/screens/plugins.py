"""Plugins & cron (`8`): the plugins loaded here with version, jobs, hooks and load error,
and the cron jobs with their schedule, next run, last run and the daemon that fired it;
`n` enqueues one run of the selected cron job now (not destructive: no confirmation)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from tui.screens.base import PolledScreen
from tui.widgets.keyed_table import KeyedTable

PLUGIN_COLUMNS = ("plugin", "version", "jobs", "hooks", "error")
CRON_COLUMNS = ("cron job", "schedule", "queue", "next run", "last run", "fired by")


class PluginsScreen(PolledScreen):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("n", "run_now", "Run now", id="run_now")]

    def body(self) -> ComposeResult:
        yield Static("plugins", classes="section")
        yield KeyedTable(PLUGIN_COLUMNS, id="plugins")
        yield Static("cron (times are UTC minutes)", classes="section")
        yield KeyedTable(CRON_COLUMNS, id="cron")

    def fetch(self) -> Any:
        return self.dashboard.data.plugins_and_cron()

    def show(self, data: Any) -> None:
        plugins, cron = data
        self.query_one("#plugins", KeyedTable).sync(
            {info["name"]: _plugin_cells(info) for info in plugins}
        )
        self.query_one("#cron", KeyedTable).sync({row["job"]: _cron_cells(row) for row in cron})

    def action_run_now(self) -> None:
        job = self.query_one("#cron", KeyedTable).selected_key
        if job is not None:
            self.perform(
                f"run {job} now",
                self.dashboard.data.run_cron_now,
                job,
                said=lambda job_id: f"enqueued one run of {job}: job {job_id}",
            )


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
        row.get("next_run") or "never",
        row.get("last_tick") or "-",
        row.get("by") or "-",
    )
