"""A DataTable whose rows are keyed and updated in place on every refresh.

Rebuilding a table each tick flickers and throws the cursor back to the top; `sync`
changes only the cells that differ, adds new rows, removes gone ones, and keeps the
cursor on the same key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual.widgets import DataTable


class KeyedTable(DataTable[Any]):
    def __init__(self, columns: Sequence[str], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._columns = list(columns)
        self._rows: dict[str, tuple[Any, ...]] = {}

    def on_mount(self) -> None:
        for column in self._columns:
            self.add_column(column, key=column)

    def sync(self, rows: Mapping[str, Sequence[Any]]) -> None:
        """Show exactly `rows` (key -> cells, in display order), changing what changed."""
        current = self.selected_key
        wanted = {key: tuple(cells) for key, cells in rows.items()}
        kept = [key for key in self._rows if key in wanted]
        added = [key for key in wanted if key not in self._rows]
        if kept + added == list(wanted):
            self._patch(wanted)
        else:
            self._rebuild(wanted)  # the order changed (rare): one redraw
        if current is not None and current in self._rows:
            self.move_cursor(row=self.get_row_index(current), animate=False)

    def _patch(self, wanted: dict[str, tuple[Any, ...]]) -> None:
        for key in [key for key in self._rows if key not in wanted]:
            self.remove_row(key)
            del self._rows[key]
        for key, cells in wanted.items():
            before = self._rows.get(key)
            if before is None:
                self.add_row(*cells, key=key)
            elif before != cells:
                for column, old, new in zip(self._columns, before, cells, strict=True):
                    if old != new:
                        self.update_cell(key, column, new, update_width=True)
            self._rows[key] = cells

    def _rebuild(self, wanted: dict[str, tuple[Any, ...]]) -> None:
        self.clear()
        for key, cells in wanted.items():
            self.add_row(*cells, key=key)
        self._rows = dict(wanted)

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor, or None when the table is empty."""
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:  # the cursor is past the last row (rows were removed)
            return None
        return None if row_key.value is None else str(row_key.value)
