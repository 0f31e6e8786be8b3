"""Failures (`3`): the dead-letter set grouped by job name and error signature (pinned),
largest group first; `r` retries and `d` deletes every job of the selected group after a
confirmation; `enter` opens the group's jobs (the failed
jobs of its queue, filtered by its job name and signature)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from tui.screens.base import PolledScreen
from tui.screens.confirm import Confirm
from tui.screens.jobs import JobsScreen
from tui.widgets.format import count, when
from tui.widgets.keyed_table import KeyedTable

COLUMNS = ("jobs", "job", "queue", "error", "first seen", "last seen")


class FailuresScreen(PolledScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "group('retry')", "Retry group", id="retry"),
        Binding("d", "group('delete')", "Delete group", id="delete"),
        Binding("enter", "open", "Jobs", id="open"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.groups: dict[str, dict[str, Any]] = {}

    def body(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="failures")

    def fetch(self) -> Any:
        return self.dashboard.data.failures()

    def show(self, data: Any) -> None:
        self.groups = {group["key"]: group for group in data}
        self.query_one(KeyedTable).sync({key: _cells(group) for key, group in self.groups.items()})

    def selected(self) -> dict[str, Any] | None:
        key = self.query_one(KeyedTable).selected_key
        return None if key is None else self.groups.get(key)

    def action_group(self, action: str) -> None:
        group = self.selected()
        if group is None:
            return
        question = (
            f"{action.capitalize()} all {group['count']:,} failed {group['job']} jobs with "
            f"{group['signature']}?"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                title = f"{action} {group['count']:,} {group['job']} jobs"
                self.perform(title, self.dashboard.data.act_on_group, action, group)

        self.app.push_screen(Confirm(question), answered)

    async def action_open(self) -> None:
        group = self.selected()
        if group is None:
            return
        await self.app.switch_mode("jobs")  # mounted, the first time too
        jobs = self.app.screen
        if isinstance(jobs, JobsScreen):
            jobs.show_group(group["queue"], group["job"], group["signature"])


def _cells(group: dict[str, Any]) -> tuple[Any, ...]:
    return (
        count(group["count"]),
        group["job"],
        group["queue"],
        group["signature"],
        when(group["first_seen"]),
        when(group["last_seen"]),
    )
