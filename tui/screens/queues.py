"""Queues (`1`, home): totals, the throughput sparkline and one row per queue."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Sparkline, Static

from tui.screens.base import PolledScreen
from tui.screens.confirm import Confirm, ConfirmByName
from tui.widgets.format import age, count, rate
from tui.widgets.keyed_table import KeyedTable

# Short headers: the table fits 80 columns (wait: waiting, delay: delayed, run: active,
# lat: latency, the oldest waiting job's age; hour: the last 60 minutes' throughput).
COLUMNS = ("", "queue", "wait", "delay", "run", "retry", "fail", "/min", "lat", "wkr", "hour")


class QueuesScreen(PolledScreen):
    own_data = False  # the app's home snapshot holds everything shown here
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause/resume", id="pause"),
        Binding("enter", "open", "Jobs", id="open"),
        Binding("P", "purge", "Purge", id="purge"),
    ]

    def body(self) -> ComposeResult:
        with Horizontal(id="totals"):
            yield Static(id="totals-text")
            yield Sparkline([], id="throughput")
        yield KeyedTable(COLUMNS, id="queues")

    def home_changed(self) -> None:
        super().home_changed()
        home = self.dashboard.home
        if home is None:
            return
        totals = home["totals"]
        self.query_one("#totals-text", Static).update(
            f"today: {count(totals['processed_today'])} processed, "
            f"{count(totals['failed_today'])} failed   now: {rate(totals['per_minute'])}/min   "
            f"success {_percent(totals['success_rate'])}"
        )
        self.query_one("#throughput", Sparkline).data = totals["minutes"]
        self.query_one(KeyedTable).sync({row["name"]: _cells(row) for row in home["queues"]})

    def action_pause(self) -> None:
        queue = self.query_one(KeyedTable).selected_key
        home = self.dashboard.home
        if queue is None or home is None:
            return
        paused = next(row["paused"] for row in home["queues"] if row["name"] == queue)
        verb = "resume" if paused else "pause"

        def answered(yes: bool | None) -> None:
            if yes:
                self.perform(f"{verb} {queue}", self.dashboard.data.pause, queue, not paused)
                self.app.call_later(self.dashboard.poll_home)

        self.app.push_screen(Confirm(f"{verb.capitalize()} queue {queue}?"), answered)

    def action_purge(self) -> None:
        """Shift-P (destructive): every job of the queue but running ones, once its name is
        typed (pinned)."""
        queue = self.query_one(KeyedTable).selected_key
        if queue is None:
            return

        def typed(name: str | None) -> None:
            if name is None:
                return
            if name != queue:
                message = f"you typed {name!r}, not {queue}; nothing was purged."
                self.app.notify(message, severity="warning")
                return
            self.perform(f"purge {queue}", self.dashboard.data.purge, queue, name)
            self.app.call_later(self.dashboard.poll_home)

        question = f"Purge queue {queue}? Every job in it that is not running is deleted."
        self.app.push_screen(ConfirmByName(question, queue), typed)

    async def action_open(self) -> None:
        queue = self.query_one(KeyedTable).selected_key
        if queue is not None:
            await self.app.switch_mode("jobs")  # mounted, the first time too
            self.app.screen.show_queue(queue)  # type: ignore[attr-defined]


def _cells(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        _mark(row),
        row["name"],
        count(row["waiting"]),
        count(row["delayed"] - row.get("retrying", 0)),
        count(row["active"]),
        count(row.get("retrying", 0)),
        count(row["failed"]),
        rate(row.get("per_minute", 0.0)),
        age(row.get("latency")),
        str(row["workers"]),
        _spark(row.get("minutes", [])),
    )


def _mark(row: dict[str, Any]) -> str:
    """Why a queue needs a look: paused, work but no worker, stalled jobs."""
    if row["paused"]:
        return "⏸"
    if row["workers"] == 0 and (row["waiting"] or row["delayed"]):
        return "!"
    if row.get("stalled", 0):
        return "~"
    return ""


BARS = " ▁▂▃▄▅▆▇█"


def _spark(values: list[int]) -> str:
    """A text sparkline (one cell per 7.5 minutes of the last hour) for a table cell."""
    if not values:
        return ""
    step = max(len(values) // 8, 1)
    buckets = [sum(values[i : i + step]) for i in range(0, len(values), step)]
    top = max(buckets) or 1
    return "".join(BARS[round(v / top * (len(BARS) - 1))] for v in buckets)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"
