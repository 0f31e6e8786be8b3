"""Events (`6`): the live event log, newest last; `space` pauses it, `/` filters it by
type, queue and job id (`type:failed queue:default job:ID`), and control actions show
who did what."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static

from tui.filters import EVENT_HINT, EventFilter, parse_event_filter
from tui.screens.filtered import FilteredScreen
from tui.widgets.format import when
from tui.widgets.keyed_table import KeyedTable

COLUMNS = ("time", "type", "queue", "job", "job id", "actor", "action")
KEPT = 500  # events kept on screen


class EventsScreen(FilteredScreen[EventFilter]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "pause", "Pause", id="pause_log"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="clear_filter"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.after: str | None = None
        self.rows: dict[str, tuple[Any, ...]] = {}
        self.paused = False
        self.filter = EventFilter()
        self.job_ids: dict[str, str] = {}  # a job filter's prefix -> the one id it names

    def body(self) -> ComposeResult:
        yield Static(id="where", markup=False)  # filters may hold [ ]
        yield Input(placeholder=EVENT_HINT, id="filter")
        yield KeyedTable(COLUMNS, id="events")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(KeyedTable).focus()  # not the hidden filter box: it would take q
        self._describe()

    def fetch(self) -> Any:
        if self.paused:
            return None
        wanted = self.filter
        filters = {"event_type": wanted.event_type, "queue": wanted.queue}
        if wanted.job is not None:
            filters["job_id"] = self._job_id(wanted.job)
        return wanted, self.dashboard.data.events(self.after, **filters)

    def _job_id(self, prefix: str) -> str:
        """The id a `job:` prefix names when it names exactly one job (the table shows
        ids cut short), else the text itself (an exact id, or nothing matches)."""
        if prefix not in self.job_ids:
            ids = self.dashboard.data.ids_with_prefix(prefix)
            self.job_ids[prefix] = ids[0] if len(ids) == 1 else prefix
        return self.job_ids[prefix]

    def show(self, data: Any) -> None:
        if data is None:
            return
        wanted, (events, after) = data
        if wanted != self.filter:  # read before the filter changed: dropped
            return
        self.after = after
        for event in events:
            self.rows[str(event["id"])] = _cells(event)
        self.rows = dict(list(self.rows.items())[-KEPT:])
        self.query_one(KeyedTable).sync(self.rows)

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._describe()
        self.app.notify("paused" if self.paused else "live", title="events")

    # -- the filter ------------------------------------------------------------------
    def parse_filter(self, text: str) -> EventFilter:
        return parse_event_filter(text)

    def action_clear_filter(self) -> None:
        self.hide_filter_box()
        self.apply_filter(EventFilter())

    def apply_filter(self, wanted: EventFilter) -> None:
        """Start over from the newest events matching `wanted`."""
        self.filter, self.after, self.rows = wanted, None, {}
        self.query_one("#filter", Input).value = wanted.text
        self.query_one(KeyedTable).sync({})
        self._describe()
        self.poll()

    def _describe(self) -> None:
        state = "paused (space resumes)" if self.paused else "live"
        shown = f"  filter: {self.filter.text}" if self.filter.text else "  / filters"
        self.query_one("#where", Static).update(f"{state}{shown}")


def _cells(event: dict[str, Any]) -> tuple[Any, ...]:
    return (
        when(event.get("ts")),
        event["type"],
        event.get("queue") or "",
        event.get("job") or "",
        (event.get("job_id") or "")[:12],
        event.get("actor") or "",
        event.get("action") or "",
    )
