"""What every dashboard screen shares: the header, a periodic read in a worker thread, and
showing the outcome (new data, or the `disconnected` state with the last data kept)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer
from textual.worker import Worker

from tui.data import Disconnected, Refused
from tui.keymap import offered
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.status_header import StatusHeader

if TYPE_CHECKING:
    from tui.app import DashboardApp


def idle(worker: Worker[Any] | None) -> bool:
    """No read of this source is under way. Polls wait for the last read to end instead of
    relying on `exclusive` alone: a thread worker that is cancelled keeps running."""
    return worker is None or worker.is_finished


class PolledScreen(Screen[None]):
    """A screen that reads its data every refresh while it is the one shown.

    `fetch` runs in a thread (it may wait on the network) as an exclusive worker, so a
    slow backend never stacks reads; `show` then runs on the UI thread. An outage keeps
    the last data on screen, dimmed, until a read succeeds again. The app reads the home
    snapshot (header, queues, alerts) itself and calls `home_changed` on the screen shown;
    a screen with nothing else to read leaves `fetch` as it is."""

    own_data = True  # False: the screen shows the app's home snapshot only
    _reading: Worker[None] | None = None
    shown = False  # True once a read reached the screen (tests wait for it)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor(1)", "Down", show=False, id="down"),
        Binding("k", "cursor(-1)", "Up", show=False, id="up"),
    ]

    @property
    def dashboard(self) -> DashboardApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        yield from self.body()
        yield Footer()

    def body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.set_interval(self.dashboard.refresh_seconds, self.poll)

    def on_screen_resume(self) -> None:
        self.query_one(StatusHeader).show(*self.dashboard.header_state())
        self.poll()

    def poll(self) -> None:
        """Read again unless another screen or a modal is in front of this one."""
        if self.own_data and self.app.screen is self and idle(self._reading):
            self._reading = self._read()

    def action_cursor(self, step: int) -> None:
        """j/k (pinned): move in the focused table, or the screen's first one."""
        focused = self.focused
        tables = [focused] if isinstance(focused, KeyedTable) else list(self.query(KeyedTable))
        if tables:
            tables[0].move_cursor(row=tables[0].cursor_row + step)

    async def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """`enter` on a focused table (DataTable binds it) does what the screen's does."""
        if hasattr(self, "action_open"):
            event.stop()
            await self.run_action("open")

    def home_changed(self) -> None:
        """The app's home snapshot or connection state changed."""
        self.query_one(StatusHeader).show(*self.dashboard.header_state())
        self.set_class(self.dashboard.error is not None, "stale")

    @work(thread=True, exclusive=True, group="read", exit_on_error=False)
    def _read(self) -> None:
        try:
            data = self.fetch()
        except Disconnected as exc:
            self.app.call_from_thread(self._disconnected, str(exc))
            return
        except Refused as exc:  # e.g. a filter naming a job that does not exist
            self.app.call_from_thread(self.app.notify, str(exc), severity="warning")
            return
        self.app.call_from_thread(self._received, data)

    def _received(self, data: Any) -> None:
        self.show(data)
        self.shown = True
        self.dashboard.connection_changed(None)

    def _disconnected(self, error: str) -> None:
        self.dashboard.connection_changed(error)

    def fetch(self) -> Any:
        """Read this screen's data (in a worker thread)."""
        raise NotImplementedError

    def show(self, data: Any) -> None:
        """Put `data` on screen (UI thread)."""
        raise NotImplementedError

    # -- actions ---------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool:
        return offered(action, self.dashboard.read_only)

    def perform(
        self, what: str, operation: Any, *args: Any, said: Callable[[Any], str] | None = None
    ) -> None:
        """Run a control action in a worker thread; say how it went in a toast ("done",
        or `said(result)` when the result is worth telling, such as a new job's id)."""
        self._act(what, operation, args, said)

    @work(thread=True, group="act", exit_on_error=False)
    def _act(
        self,
        what: str,
        operation: Any,
        args: tuple[Any, ...],
        said: Callable[[Any], str] | None = None,
    ) -> None:
        try:
            result = operation(*args)
        except (Refused, Disconnected) as exc:
            self.app.call_from_thread(self.app.notify, str(exc), title=what, severity="error")
            return
        self.app.call_from_thread(self.app.notify, said(result) if said else "done", title=what)
        self.app.call_from_thread(self.poll)
