"""A bulk action's progress: a bar, done / skipped / failed counts, `escape` to stop, and
the report at the end (what was and was not done). The work runs in a worker thread, a
bounded chunk at a time, so key presses are answered meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, ProgressBar

from tui.data import BulkProgress, Disconnected, Refused


class BulkRun(ModalScreen[BulkProgress]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop", "Stop", id="stop"),
        Binding("enter", "close", "Close", show=False, id="close"),
    ]

    def __init__(
        self,
        title: str,
        total: int | None,
        steps: Callable[[threading.Event], Iterator[BulkProgress]],
    ) -> None:
        super().__init__()
        self.heading = title
        self.total = total
        self.steps = steps
        self.stopping = threading.Event()
        self.last = BulkProgress()
        self.finished = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.heading)
            yield ProgressBar(total=self.total, show_eta=True, id="bulk-bar")
            yield Label("", id="bulk-counts")
            yield Label("escape stops", classes="hint", id="bulk-hint")

    def on_mount(self) -> None:
        self._run()

    @work(thread=True, exclusive=True, group="bulk", exit_on_error=False)
    def _run(self) -> None:
        try:
            for progress in self.steps(self.stopping):
                self.app.call_from_thread(self._advance, progress)
        except Disconnected as exc:
            # The step under way when the backend dropped is one atomic call whose answer
            # never came: it may have been applied or not, and the counts cannot tell.
            why = f"stopped, the backend dropped ({exc}); the step under way may or may not "
            self.app.call_from_thread(self._end, why + "have been applied")
            return
        except Refused as exc:
            self.app.call_from_thread(self._end, f"stopped: {exc}")
            return
        self.app.call_from_thread(self._end, "stopped" if self.stopping.is_set() else "finished")

    def _advance(self, progress: BulkProgress) -> None:
        self.last = progress
        self.query_one("#bulk-bar", ProgressBar).update(progress=progress.seen)
        self.query_one("#bulk-counts", Label).update(progress.text())

    def _end(self, how: str) -> None:
        self.finished = True
        self.query_one("#bulk-counts", Label).update(f"{how}: {self.last.text()}")
        self.query_one("#bulk-hint", Label).update("enter or escape closes")

    def action_stop(self) -> None:
        if self.finished:
            self.dismiss(self.last)
        else:
            self.stopping.set()

    def action_close(self) -> None:
        if self.finished:
            self.dismiss(self.last)
