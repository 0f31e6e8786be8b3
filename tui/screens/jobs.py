"""Jobs (`2`): one state at a time, one queue or all, a page at a time (never a whole state
loaded), `/` to filter by qualifiers, `enter` for a job's detail. A filter that must read
jobs one by one (payload, error) is a search: it streams its matches a bounded step at a
time, says how far it got ("searched N of M") and `escape` stops it. `id:PREFIX` alone
jumps to the job. `x` selects rows; `A` selects every job matching the filter, and an
action on that runs over all of them on the backend side, in chunks, with a report."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static, Tab, Tabs

from tui.data import PAGE, STATE_TABS, Disconnected, Refused
from tui.filters import HINT, JobFilter, parse_filter
from tui.screens.bulk import BulkRun
from tui.screens.confirm import Confirm
from tui.screens.filtered import FilteredScreen
from tui.screens.job_detail import JobDetail
from tui.widgets.format import when
from tui.widgets.keyed_table import KeyedTable

COLUMNS = ("id", "job", "queue", "state", "attempts", "enqueued", "finished")


class JobsScreen(FilteredScreen[JobFilter]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("l,right_square_bracket", "page(1)", "Next", id="next_page"),
        Binding("h,left_square_bracket", "page(-1)", "Prev", id="previous_page"),
        Binding("enter", "open", "Detail", id="open"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="clear_filter"),
        Binding("x", "select", "Select", id="select"),
        Binding("A", "select_all", "All", id="select_all"),
        Binding("r", "bulk('retry')", "Retry", id="retry"),
        Binding("c", "bulk('cancel')", "Cancel", id="cancel"),
        Binding("d", "bulk('delete')", "Delete", id="delete"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state = "waiting"
        self.queue: str | None = None
        self.filter = JobFilter()
        self.cursors: list[str | None] = [None]  # the cursor of each page seen so far
        self.next_cursor: str | None = None
        self.selected: set[str] = set()  # `x`: job ids picked for a bulk action
        self.all_matching = False  # `A`: every job the state, queue and filter match
        self.page_jobs: dict[str, dict[str, Any]] = {}
        self.found_ids: list[str] = []  # what `id:PREFIX` found
        self.search_stop = threading.Event()
        self.search_text = ""  # how far the current search got

    def body(self) -> ComposeResult:
        yield Tabs(*(Tab(state, id=state) for state in STATE_TABS), id="states")
        yield Static(id="where", markup=False)  # filters may hold [ ]
        yield Input(placeholder=HINT, id="filter")
        yield KeyedTable(COLUMNS, id="jobs")

    def on_mount(self) -> None:
        super().on_mount()
        self._describe()

    def show_queue(self, queue: str | None) -> None:
        self.queue = queue
        self._restart()

    def show_group(self, queue: str, job: str, signature: str) -> None:
        """A failure group's jobs: its queue's failed jobs of `job` with `signature`."""
        self.queue, self.state = queue, "failed"
        self.query_one("#states", Tabs).active = "failed"
        quoted = signature.replace('"', '\\"')
        text = f'job:{job} signature:"{quoted}"'
        self.apply_filter(JobFilter(text=text, job=job, signature=signature))

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tab.id and event.tab.id != self.state:
            self.state = event.tab.id
            self._restart()

    def _restart(self) -> None:
        self.cursors, self.next_cursor = [None], None
        self.all_matching = False
        self._load_page()

    def _load_page(self) -> None:
        """Read the page `self.cursors[-1]` starts: a search streams it, a listing polls."""
        self.search_stop.set()  # a search still running belongs to the old page
        self.search_text = ""
        self._describe()
        if self.filter.searches:
            self.page_jobs = {}
            self._draw()
            self.search_stop = threading.Event()
            self._search(self.cursors[-1], self.search_stop)
        else:
            self.poll()

    def _describe(self) -> None:
        where = f"queue {self.queue}" if self.queue else "every queue"
        shown = f"  filter: {self.filter.text}" if self.filter.text else ""
        page = len(self.cursors)
        picked = "  [all matching jobs selected]" if self.all_matching else ""
        searched = f"\n{self.search_text}" if self.search_text else ""
        self.query_one("#where", Static).update(
            f"{self.state} jobs of {where}, page {page}{shown}{picked}{searched}"
        )

    def _view(self) -> tuple[Any, ...]:
        """What the page shown is of: a read made for another view is dropped."""
        return self.state, self.queue, self.filter.text, self.cursors[-1], tuple(self.found_ids)

    def fetch(self) -> Any:
        if self.filter.searches:
            return None  # a search's page is read once, by _search, not every refresh
        view = self._view()
        if self.filter.jumps:
            jobs = [self.dashboard.data.job(i) for i in self.found_ids]
            return view, {"jobs": jobs, "next_cursor": None}
        cursor = self.cursors[-1]
        return view, self.dashboard.data.jobs(self.queue, self.state, cursor, self.filter.job)

    def show(self, read: Any) -> None:
        # A read started before the state, queue, filter or page changed (opening a
        # failure group right after the screen's first poll) must not replace the new one.
        if read is None or read[0] != self._view():
            return
        data = read[1]
        self.next_cursor = data["next_cursor"]
        self.page_jobs = {job["id"]: job for job in data["jobs"]}
        self._draw()

    # -- a search: bounded steps in a thread, matches shown as they come -----------------
    @work(thread=True, group="search", exit_on_error=False)
    def _search(self, cursor: str | None, stop: threading.Event) -> None:
        searched, found = 0, 0
        while not stop.is_set():
            try:
                step = self.dashboard.data.search(
                    self.queue,
                    self.state,
                    self.filter.query(),
                    self.filter.job,
                    cursor,
                    PAGE - found,
                )
            except (Disconnected, Refused) as exc:
                self.app.call_from_thread(
                    self._search_step, stop, [], f"search stopped: {exc}", cursor
                )
                return
            searched, found, cursor = (
                searched + step["searched"],
                found + len(step["jobs"]),
                step["next_cursor"],
            )
            done = found >= PAGE or cursor is None
            text = _search_text(searched, step["total"], found, done)
            self.app.call_from_thread(self._search_step, stop, step["jobs"], text, cursor)
            if done:
                return
        text = f"search stopped after {searched:,} jobs: {found:,} matches"
        self.app.call_from_thread(self._search_step, stop, [], text, cursor)

    def _search_step(
        self, stop: threading.Event, jobs: list[dict[str, Any]], text: str, cursor: str | None
    ) -> None:
        if stop is not self.search_stop:
            return  # from a search the user replaced
        self.page_jobs.update((job["id"], job) for job in jobs)
        self.next_cursor, self.search_text = cursor, text
        self._draw()
        self._describe()

    @work(thread=True, group="jump", exit_on_error=False)
    def _jump(self, prefix: str) -> None:
        try:
            ids = self.dashboard.data.ids_with_prefix(prefix)
        except (Disconnected, Refused) as exc:
            self.app.call_from_thread(self.app.notify, str(exc), title="id", severity="error")
            return
        self.app.call_from_thread(self._jumped, prefix, ids)

    def _jumped(self, prefix: str, ids: list[str]) -> None:
        if not ids:
            self.app.notify(f"no job id starts with '{prefix}'.", title="id", severity="warning")
        self.found_ids = ids
        self.poll()
        if len(ids) == 1:
            self.app.push_screen(JobDetail(ids[0]))

    def _draw(self) -> None:
        self.query_one(KeyedTable).sync(
            {
                job_id: _cells(job, self.all_matching or job_id in self.selected)
                for job_id, job in self.page_jobs.items()
            }
        )

    # -- keys ------------------------------------------------------------------------
    def action_page(self, step: int) -> None:
        if step > 0 and self.next_cursor is not None:
            self.cursors.append(self.next_cursor)
        elif step < 0 and len(self.cursors) > 1:
            self.cursors.pop()
        else:
            return
        self._load_page()

    def parse_filter(self, text: str) -> JobFilter:
        return parse_filter(text)

    def apply_filter(self, wanted: JobFilter) -> None:
        self.filter, self.found_ids = wanted, []
        self.query_one("#filter", Input).value = wanted.text
        self._restart()
        if wanted.jumps and wanted.id_prefix is not None:
            self._jump(wanted.id_prefix)

    def action_clear_filter(self) -> None:
        """escape: stop a running search first; then clear the filter."""
        if self.filter.searches and not self.search_stop.is_set():
            self.search_stop.set()
            return
        self.hide_filter_box()
        self.apply_filter(JobFilter())

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

    def action_select_all(self) -> None:
        """`A`: every job matching the state, queue and filter (not only the page)."""
        self.all_matching = not self.all_matching
        self.selected.clear()
        self._draw()
        self._describe()

    def action_bulk(self, action: str) -> None:
        """`action` on every matching job (`A`), the selected jobs (`x`), or on the job
        under the cursor."""
        if self.all_matching:
            self._bulk_on_matching(action)
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

    def _bulk_on_matching(self, action: str) -> None:
        where = (self.queue, self.state, self.filter.query(), self.filter.job)
        queue = f"queue {self.queue}" if self.queue else "every queue"
        matching = f" matching {self.filter.text}" if self.filter.text else ""
        title = f"{action} every {self.state} job of {queue}{matching}"

        def run(stop: Any) -> Any:
            return self.dashboard.data.act_on_matching(action, where, stop)

        def answered(yes: bool | None) -> None:
            if yes:
                total = self._state_count()
                self.app.push_screen(BulkRun(title, total, run), lambda _: self._after_bulk())

        self.app.push_screen(Confirm(f"{title.capitalize()}?"), answered)

    def _state_count(self) -> int | None:
        """The state's size from the home snapshot: the progress bar's end (a filter's
        matches are not known before the run)."""
        home = self.dashboard.home
        if home is None or self.filter.others or self.state not in ("waiting", "active", "failed"):
            return None
        rows = [row for row in home["queues"] if self.queue in (None, row["name"])]
        return sum(row[self.state] for row in rows)

    def _after_bulk(self) -> None:
        self.selected.clear()
        self.all_matching = False
        self._load_page()


def _search_text(searched: int, total: int | None, found: int, done: bool) -> str:
    of = f" of {total:,}" if total is not None else ""
    how = "page full" if found >= PAGE else "searched to the end" if done else "escape stops"
    return f"searched {searched:,}{of} jobs: {found:,} matches ({how})"


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
