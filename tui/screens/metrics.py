"""Metrics (`7`): completed, failed and retried counts and wait/run p50/p95 over the last
hour (60 one-minute points), 24 hours (24 one-hour points) or 30 days (30 daily points),
as sparklines with the span's numbers beside them and as charts, and per job the span's
totals. `s` cycles the span, `[` and `]` step through the queues (all queues first),
`enter` on a job narrows the charts to it and `enter` or `escape` widens them again.
Daily totals keep counts only, so the 30-day span has no percentiles (the screen says so).
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Sparkline, Static

from tui.screens.base import PolledScreen
from tui.widgets.format import count
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.metric_chart import Line, MetricChart

COLUMNS = ("job", "completed", "failed", "retried", "wait p50", "wait p95", "run p50", "run p95")
COUNTS = ("completed", "failed", "retried")
TIMES = ("wait", "run")
COLORS = {"completed": "green", "failed": "red", "retried": "orange"}
TIME_COLORS = {"wait_p50": "cyan", "wait_p95": "blue+", "run_p50": "yellow", "run_p95": "red"}
# span key -> (its name, its points, the unit of a tick label going back from now)
SPANS = {
    "1h": ("last hour", "60 one-minute points", "m"),
    "24h": ("last 24 hours", "24 one-hour points", "h"),
    "30d": ("last 30 days", "30 daily points", "d"),
}
NO_PERCENTILES = "n/a"
# One line at 80 columns.
NO_PERCENTILES_WHY = "30 days: daily totals keep counts only, so wait and run percentiles are n/a."


class MetricsScreen(PolledScreen):
    AUTO_FOCUS = "#per-job"  # not the scrolling body: `enter` picks a job of the table
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "span", "Span", id="span"),
        Binding("right_square_bracket", "queue(1)", "Next queue", id="next_queue"),
        Binding("left_square_bracket", "queue(-1)", "Previous queue", id="previous_queue"),
        Binding("escape", "every_job", "Every job", id="every_job"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.queue: str | None = None  # None: every queue
        self.span = "1h"
        self.job: str | None = None  # None: every job

    def body(self) -> ComposeResult:
        yield Static(id="metrics-title", markup=False)  # job names are not markup
        yield Static(NO_PERCENTILES_WHY, id="metrics-note")
        with VerticalScroll(id="metrics-body"):
            for name in (*COUNTS, *TIMES):
                with Horizontal(classes="metric"):
                    yield Static(id=f"{name}-label", classes="metric-label")
                    yield Sparkline([], id=f"{name}-spark", classes=name)
            with Horizontal(id="metric-charts"):
                yield MetricChart(id="counts-chart")
                yield MetricChart(id="times-chart")
            yield Static(id="per-job-title", classes="section")
            yield KeyedTable(COLUMNS, id="per-job")

    def fetch(self) -> Any:
        return self.dashboard.data.metric_span(self.queue, self.span, self.job)

    def show(self, data: Any) -> None:
        """Labels come from `data`, not from the screen's choice: a read started before
        `s`, `[`/`]` or `enter` describes what it read."""
        name, points, _ = SPANS[data["span"]]
        where = f"queue {data['queue']}" if data["queue"] else "every queue"
        who = f"job {data['job']}" if data["job"] else "every job"
        self.query_one("#metrics-title", Static).update(f"{where}, {who}: {name} ({points})")
        self.query_one("#metrics-note").display = not data["percentiles"]
        self._show_sparklines(data)
        self._show_charts(data)
        back = "enter or escape: every job" if data["job"] else "enter: charts of that job only"
        self.query_one("#per-job-title", Static).update(f"per job, {name} ({back})")
        rows = {row["job"]: _cells(row, data["percentiles"]) for row in data["jobs"]}
        self.query_one(KeyedTable).sync(rows)

    def _show_sparklines(self, data: dict[str, Any]) -> None:
        name = SPANS[data["span"]][0]
        totals, points = data["totals"], data["points"]
        for outcome in COUNTS:
            self._sparkline(
                outcome,
                f"{outcome:<10}{name:<14}{count(totals[outcome]):>9}",
                [row[outcome] for row in points],
            )
        for kind in TIMES:
            figures = (
                f"{_seconds(totals[kind]['p50'])} / {_seconds(totals[kind]['p95'])}"
                if data["percentiles"]
                else NO_PERCENTILES
            )
            label = f"{kind} p50/p95".ljust(12) + figures.rjust(21)
            self._sparkline(kind, label, [row[f"{kind}_p95"] or 0.0 for row in points])

    def _sparkline(self, name: str, label: str, values: list[float]) -> None:
        self.query_one(f"#{name}-label", Static).update(label)
        self.query_one(f"#{name}-spark", Sparkline).data = values

    def _show_charts(self, data: dict[str, Any]) -> None:
        points, ticks = data["points"], _ticks(data["span"], len(data["points"]))
        counts = [Line(o, [row[o] for row in points], COLORS[o]) for o in COUNTS]
        self.query_one("#counts-chart", MetricChart).draw(
            "jobs per point", ticks, counts, counts=True
        )
        times = self.query_one("#times-chart", MetricChart)
        times.display = data["percentiles"]
        if data["percentiles"]:
            top = max((row[key] or 0.0 for row in points for key in TIME_COLORS), default=0.0)
            scale, unit = (1000.0, "ms") if top < 1 else (1.0, "s")
            lines = [
                Line(
                    key.replace("_", " "),
                    [_scaled(row[key], scale) for row in points],
                    color,
                    False,
                )
                for key, color in TIME_COLORS.items()
            ]
            # Short: plotext drops a title wider than a 40-column chart.
            times.draw(f"wait/run ({unit})" if top else "wait/run: no jobs", ticks, lines)

    # -- actions ---------------------------------------------------------------------
    def action_span(self) -> None:
        spans = list(SPANS)
        self.span = spans[(spans.index(self.span) + 1) % len(spans)]
        self.poll()

    def action_queue(self, step: int) -> None:
        home = self.dashboard.home
        names: list[str | None] = [None, *(row["name"] for row in (home or {}).get("queues", []))]
        index = names.index(self.queue) if self.queue in names else 0
        self.queue = names[(index + step) % len(names)]
        self.poll()

    def action_open(self) -> None:
        """`enter` on the per-job table: narrow the charts to that job, or widen them again
        when it is the job already chosen."""
        chosen = self.query_one(KeyedTable).selected_key
        self._choose(None if chosen == self.job else chosen)

    def action_every_job(self) -> None:
        self._choose(None)

    def _choose(self, job: str | None) -> None:
        self.job = job
        self.refresh_bindings()  # the footer offers escape only while a job is chosen
        self.poll()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool:
        """`escape` widens the charts only while a job is chosen; otherwise it is free for
        what escape does everywhere else (back)."""
        if action == "every_job":
            return self.job is not None
        return super().check_action(action, parameters)


def _ticks(span: str, points: int) -> list[str]:
    """A label per point going back from now: "-59m" ... "now"."""
    unit = SPANS[span][2]
    return [f"-{points - 1 - i}{unit}" if i < points - 1 else "now" for i in range(points)]


def _cells(row: dict[str, Any], percentiles: bool) -> tuple[Any, ...]:
    times = (
        (_seconds(row[kind][q]) for kind in TIMES for q in ("p50", "p95"))
        if percentiles
        else (NO_PERCENTILES,) * 4
    )
    return (row["job"], *(count(row[outcome]) for outcome in COUNTS), *times)


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value * scale


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"
