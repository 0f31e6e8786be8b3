"""Metrics (`7`): throughput, failures and retries of the last 60 minutes and 30 days as
sparklines with the numbers beside them, and per job the last hour's counts and wait/run
p50/p95. `[` and `]` step through the queues (all queues first)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Sparkline, Static

from tui.screens.base import PolledScreen
from tui.widgets.format import count
from tui.widgets.keyed_table import KeyedTable

COLUMNS = ("job", "completed", "failed", "retried", "wait p50", "wait p95", "run p50", "run p95")
SERIES = ("completed", "failed", "retried")


class MetricsScreen(PolledScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right_square_bracket", "queue(1)", "Next queue", id="next_queue"),
        Binding("left_square_bracket", "queue(-1)", "Previous queue", id="previous_queue"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.queue: str | None = None  # None: every queue

    def body(self) -> ComposeResult:
        yield Static(id="metrics-title")
        for span in ("hour", "month"):
            for name in SERIES:
                with Horizontal(classes="metric"):
                    yield Static(id=f"{span}-{name}-label", classes="metric-label")
                    yield Sparkline([], id=f"{span}-{name}", classes=name)
        yield KeyedTable(COLUMNS, id="per-job")

    def fetch(self) -> Any:
        return self.dashboard.data.stats(self.queue)

    def show(self, data: Any) -> None:
        where = f"queue {self.queue}" if self.queue else "every queue"
        self.query_one("#metrics-title", Static).update(
            f"{where}: {data['throughput']['per_minute']}/min over the last hour, "
            f"success rate {_percent(data['success_rate'])} today   ([ ] other queues)"
        )
        for span, rows in (("hour", data["minutes"]), ("month", data["days"])):
            for name in SERIES:
                values = [row[name] for row in rows]
                label = "last 60 min" if span == "hour" else "last 30 days"
                self.query_one(f"#{span}-{name}-label", Static).update(
                    f"{name:<10}{label:<13}{count(sum(values)):>9}"
                )
                self.query_one(f"#{span}-{name}", Sparkline).data = values
        self.query_one(KeyedTable).sync({row["job"]: _cells(row) for row in data["jobs"]})

    def action_queue(self, step: int) -> None:
        home = self.dashboard.home
        names: list[str | None] = [None, *(row["name"] for row in (home or {}).get("queues", []))]
        index = names.index(self.queue) if self.queue in names else 0
        self.queue = names[(index + step) % len(names)]
        self.poll()


def _cells(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["job"],
        count(row["completed"]),
        count(row["failed"]),
        count(row["retried"]),
        *(_seconds(row[kind][q]) for kind in ("wait", "run") for q in ("p50", "p95")),
    )


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"
