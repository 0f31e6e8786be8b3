"""A line chart of a few series over the points of a span (textual-plotext), for the
Metrics screen: x is the point's place in the span, labelled relative to now ("-45m",
"now") so a chart never depends on the clock; a missing value (a minute without jobs has
no percentile) leaves a gap instead of drawing a misleading zero."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from textual_plotext import PlotextPlot

TICKS = 5  # x labels per chart: readable at 40 columns


@dataclass(frozen=True)
class Line:
    label: str
    values: Sequence[float | None]
    color: str
    joined: bool = True  # False: points only, so a gap of missing values is not bridged


class MetricChart(PlotextPlot):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._drawn: tuple[str, tuple[str, ...], tuple[Line, ...], bool] | None = None

    def draw(
        self, title: str, ticks: Sequence[str], lines: Sequence[Line], counts: bool = False
    ) -> None:
        """Show `lines` (each one value per point) under `title`; `ticks` names the points;
        `counts`: whole numbers, so no fractional marks. Redraws only when something
        changed (plotext rebuilds the whole figure)."""
        wanted = (title, tuple(ticks), tuple(lines), counts)
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
                draw = plt.plot if line.joined else plt.scatter
                ys = [line.values[x] for x in xs]
                draw(xs, ys, label=line.label, color=line.color, marker="hd")
        top = max((v for line in lines for v in line.values if v is not None), default=0.0)
        step = max(_round_step(top), 1.0) if counts else _round_step(top)
        marks = [step * i for i in range(math.floor(top / step) + 2)]
        plt.ylim(0, marks[-1])  # an empty span still shows an axis from 0
        plt.yticks(marks, [f"{mark:g}" for mark in marks])
        plt.xlim(0, max(len(ticks) - 1, 1))
        places = _tick_places(len(ticks))
        plt.xticks([float(i) for i in places], [ticks[i] for i in places])
        self.refresh()


def _round_step(top: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving at most 4 marks up to `top`:
    a count axis reads 0 10 20 30, not 0.0 5.5 11.0."""
    if top <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(top / 4))
    return next(power * m for m in (1, 2, 5, 10) if top / (power * m) <= 4)


def _tick_places(points: int) -> list[int]:
    """TICKS evenly spread indexes of `points` points, the first and the last included."""
    if points <= TICKS:
        return list(range(points))
    return sorted({round(i * (points - 1) / (TICKS - 1)) for i in range(TICKS)})
