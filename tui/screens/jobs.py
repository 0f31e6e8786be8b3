"""Jobs (`2`): one state at a time, one queue or all, a page at a time (never a whole state
loaded), `/` to filter by qualifiers, `enter` for a job's detail."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static, Tab, Tabs

from tui.data import STATE_TABS
from tui.filters import BadFilter, JobFilter, parse_filter
from tui.screens.base import PolledScreen
from tui.screens.bulk import BulkRun
from tui.screens.confirm import Confirm
from tui.screens.job_detail import JobDetail
from tui.widgets.format import when
from tui.widgets.keyed_table import KeyedTable

COLUMNS = ("id", "job", "queue", "state", "attempts", "enqueued", "finished")


class JobsScreen(PolledScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter"),
        Binding("l,right_square_bracket", "page(1)", "Next page"),
        Binding("h,left_square_bracket", "page(-1)", "Previous page"),
        Binding("enter", "open", "Detail"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("x", "select", "Select"),
        Binding("r", "bulk('retry')", "Retry"),
        Binding("c", "bulk('cancel')", "Cancel"),
        Binding("d", "bulk('delete')", "Delete"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state = "waiting"
        self.queue: str | None = None
        self.filter = JobFilter()
        self.cursors: list[str | None] = [None]  # the cursor of each page seen so far
        self.next_cursor: str | None = None
        self.selected: set[str] = set()  # `x`: job ids picked for a bulk action
        self.page_jobs: dict[str, dict[str, Any]] = {}

    def body(self) -> ComposeResult:
        yield Tabs(*(Tab(state, id=state) for state in STATE_TABS), id="states")
        yield Static(id="where")
        yield Input(placeholder="job:NAME id:ID   (enter applies, escape clears)", id="filter")
        yield KeyedTable(COLUMNS, id="jobs")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#filter", Input).display = False
        self._describe()

    def show_queue(self, queue: str | None) -> None:
        self.queue = queue
        self._restart()

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tab.id and event.tab.id != self.state:
            self.state = event.tab.id
            self._restart()

    def _restart(self) -> None:
        self.cursors, self.next_cursor = [None], None
        self._describe()
        self.poll()

    def _describe(self) -> None:
        where = f"queue {self.queue}" if self.queue else "every queue"
        shown = f"  filter: {self.filter.text}" if self.filter.text else ""
        page = len(self.cursors)
        self.query_one("#where", Static).update(f"{self.state} jobs of {where}, page {page}{shown}")

    def fetch(self) -> Any:
        if self.filter.job_id is not None:
            return {"jobs": [self.dashboard.data.job(self.filter.job_id)], "next_cursor": None}
        cursor = self.cursors[-1]
        return self.dashboard.data.jobs(self.queue, self.state, cursor, self.filter.job)

    def show(self, data: Any) -> None:
        self.next_cursor = data["next_cursor"]
        self.page_jobs = {job["id"]: job for job in data["jobs"]}
        self._draw()

    def _draw(self) -> None:
        self.query_one(KeyedTable).sync(
            {job_id: _cells(job, job_id in self.selected) for job_id, job in self.page_jobs.items()}
        )

    # -- keys ------------------------------------------------------------------------
    def action_page(self, step: int) -> None:
        if step > 0 and self.next_cursor is not None:
            self.cursors.append(self.next_cursor)
        elif step < 0 and len(self.cursors) > 1:
            self.cursors.pop()
        else:
            return
        self._describe()
        self.poll()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            self.filter = parse_filter(event.value)
        except BadFilter as exc:
            self.app.notify(str(exc), title="filter", severity="error")
            return
        event.input.display = False
        self.query_one(KeyedTable).focus()
        self._restart()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value, box.display = "", False
        self.filter = JobFilter()
        self.query_one(KeyedTable).focus()
        self._restart()

    def action_open(self) -> None:
        job_id = self.query_one(KeyedTable).selected_key
        if job_id is not None:
            self.app.push_screen(JobDetail(job_id))

    def action_select(self) -> None:
        job_id = self.query_one(KeyedTable).selected_key
        if job_id is None:
            return
        self.selected ^= {job_id}
        self._draw()
        self.query_one(KeyedTable).action_cursor_down()

    def action_bulk(self, action: str) -> None:
        """`action` on the selected jobs (`x`), or on the job under the cursor."""
        if self.read_only_refusal():
            return
        cursor = self.query_one(KeyedTable).selected_key
        targets = sorted(self.selected) or ([cursor] if cursor else [])
        if not targets:
            return
        title = f"{action} {len(targets):,} jobs"

        def run(stop: Any) -> Any:
            return self.dashboard.data.each(action, targets, stop)

        def answered(yes: bool | None) -> None:
            if yes:
                self.app.push_screen(
                    BulkRun(title, len(targets), run), lambda _: self._after_bulk()
                )

        self.app.push_screen(Confirm(f"{action.capitalize()} {len(targets):,} jobs?"), answered)

    def _after_bulk(self) -> None:
        self.selected.clear()
        self.poll()


def _cells(job: dict[str, Any], selected: bool) -> tuple[Any, ...]:
    return (
        ("● " if selected else "  ") + job["id"][:12],
        job["job"],
        job["queue"],
        job["state"],
        str(job["attempts"]),
        when(job["enqueued_at"]),
        when(job["finished_at"]),
    )
