"""A line chart of a few series over the points of a span (textual-plotext), for the
Metrics screen: x is the point's place in the span, labelled relative to now ("-45m",
"now") so a chart never depends on the clock; a missing value (a minute without jobs has
no percentile) leaves a gap instead of drawing a misleading zero."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual_plotext import PlotextPlot

TICKS = 5  # x labels per chart: readable at 40 columns


@dataclass(frozen=True)
class Line:
    label: str
    values: Sequence[float | None]
    color: str


class MetricChart(PlotextPlot):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._drawn: tuple[str, tuple[str, ...], tuple[Line, ...]] | None = None

    def draw(self, title: str, ticks: Sequence[str], lines: Sequence[Line]) -> None:
        """Show `lines` (each one value per point) under `title`; `ticks` names the points.
        Redraws only when something changed (plotext rebuilds the whole figure)."""
        wanted = (title, tuple(ticks), tuple(lines))
        if wanted == self._drawn:
            return
        self._drawn = wanted
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        for line in lines:
            xs = [x for x, value in enumerate(line.values) if value is not None]
            if xs:
                ys = [line.values[x] for x in xs]
                plt.plot(xs, ys, label=line.label, color=line.color, marker="hd")
        top = max((v for line in lines for v in line.values if v is not None), default=0.0)
        plt.ylim(0, top * 1.1 or 1)  # an empty span still shows an axis from 0
        plt.xlim(0, max(len(ticks) - 1, 1))
        places = _tick_places(len(ticks))
        plt.xticks([float(i) for i in places], [ticks[i] for i in places])
        self.refresh()


def _tick_places(points: int) -> list[int]:
    """TICKS evenly spread indexes of `points` points, the first and the last included."""
    if points <= TICKS:
        return list(range(points))
    return sorted({round(i * (points - 1) / (TICKS - 1)) for i in range(TICKS)})
