"""Events (`6`): the live event log, newest last; `space` pauses it."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from tui.screens.base import PolledScreen
from tui.widgets.format import when
from tui.widgets.keyed_table import KeyedTable

COLUMNS = ("time", "type", "queue", "job", "job id", "who / what")
KEPT = 500  # events kept on screen


class EventsScreen(PolledScreen):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("space", "pause", "Pause")]

    def __init__(self) -> None:
        super().__init__()
        self.after: str | None = None
        self.rows: dict[str, tuple[Any, ...]] = {}
        self.paused = False

    def body(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="events")

    def fetch(self) -> Any:
        return None if self.paused else self.dashboard.data.events(self.after)

    def show(self, data: Any) -> None:
        if data is None:
            return
        events, self.after = data
        for event in events:
            self.rows[str(event["id"])] = _cells(event)
        self.rows = dict(list(self.rows.items())[-KEPT:])
        self.query_one(KeyedTable).sync(self.rows)

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.app.notify("paused" if self.paused else "live", title="events")


def _cells(event: dict[str, Any]) -> tuple[Any, ...]:
    who = f"{event.get('actor', '')} {event.get('action', '')}".strip()
    return (
        when(event.get("ts")),
        event["type"],
        event.get("queue") or "",
        event.get("job") or "",
        (event.get("job_id") or "")[:12],
        who,
    )
