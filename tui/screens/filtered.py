"""A polled screen with a `/` filter box: what the Jobs and Events screens share."""

from __future__ import annotations

from typing import Generic, TypeVar

from textual.widgets import Input

from tui.filters import BadFilter
from tui.screens.base import PolledScreen
from tui.widgets.keyed_table import KeyedTable

FilterT = TypeVar("FilterT")


class FilteredScreen(PolledScreen, Generic[FilterT]):
    """The screen's body holds an Input `#filter`, hidden until `/`. Enter parses its text
    with `parse_filter`: a bad filter is one toast and the box stays open with the text (so
    nothing typed is lost); a good one hides the box and goes to `apply_filter`."""

    def parse_filter(self, text: str) -> FilterT:
        raise NotImplementedError

    def apply_filter(self, wanted: FilterT) -> None:
        raise NotImplementedError

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#filter", Input).display = False

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            wanted = self.parse_filter(event.value)
        except BadFilter as exc:
            self.app.notify(str(exc), title="filter", severity="error")
            return
        self.hide_filter_box()
        self.apply_filter(wanted)

    def hide_filter_box(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one(KeyedTable).focus()
