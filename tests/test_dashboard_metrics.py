"""The Metrics screen (`7`) driven with Pilot against a real SQLite file and a real
redis-server: `s` steps through the last hour, 24 hours and 30 days with each span's
totals beside the sparklines, `[`/`]` pick a queue, `enter` on a job narrows the charts to
it and `enter` or `escape` widens them again, and 30 days say n/a for percentiles."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from runtime import stats
from runtime.producer import Runtime
from tests.dashboard_helpers import app_for, dashboard_config, rows, run, table, until
from tests.helpers import RUN, SPAN_TOTALS, record_metric_spans
from tui.app import DashboardApp
from tui.widgets.metric_chart import MetricChart

COUNTS = ("completed", "failed", "retried")


def _text(app: DashboardApp, widget_id: str) -> str:
    return str(app.screen.query_one(f"#{widget_id}").render())


def _totals(app: DashboardApp) -> tuple[int, ...]:
    """The span's totals beside the sparklines (the label's last word)."""
    return tuple(int(_text(app, f"{name}-label").split()[-1]) for name in COUNTS)


async def _shows(app: DashboardApp, span: str, queue: str | None, job: str | None) -> None:
    """Wait until the screen shows SPAN_TOTALS' figures for `span`, `queue` and `job`."""
    wanted = SPAN_TOTALS[span][(queue, job)]
    where = f"queue {queue}" if queue else "every queue"
    title = f"{where}, job {job}" if job else f"{where}, every job"

    def shown() -> bool:
        return _text(app, "metrics-title").startswith(title) and _totals(app) == wanted

    await until(shown, f"{span} {queue} {job}: {wanted}")


def _setup(tmp_path: Path, backend_url: str) -> DashboardApp:
    config = dashboard_config(tmp_path, backend_url)
    record_metric_spans(Runtime(config=config).backend)
    return app_for(config)


def test_s_steps_through_the_spans_and_30_days_have_no_percentiles(
    tmp_path: Path, backend_url: str
) -> None:
    app = _setup(tmp_path, backend_url)
    run_p50 = f"{stats.bucket_value(stats.bucket_of(RUN)) * 1000:.0f} ms"

    async def scenario(pilot: Any) -> None:
        await pilot.press("7")
        await _shows(app, "1h", None, None)
        assert "last hour (60 one-minute points)" in _text(app, "metrics-title")
        assert rows(app)["a.job"][1] == "3" and rows(app)["a.job"][6] == run_p50
        assert rows(app)["b.job"][2:4] == ("1", "2")  # failed, retried
        assert not app.screen.query_one("#metrics-note").display
        await pilot.press("s")
        await _shows(app, "24h", None, None)
        assert "last 24 hours (24 one-hour points)" in _text(app, "metrics-title")
        assert rows(app)["a.job"][1] == "7" and rows(app)["a.job"][6] == run_p50
        await pilot.press("s")
        await _shows(app, "30d", None, None)
        assert app.screen.query_one("#metrics-note").display
        assert "percentiles are n/a" in _text(app, "metrics-note")
        assert _text(app, "wait-label").endswith("n/a") and _text(app, "run-label").endswith("n/a")
        assert rows(app)["a.job"][1] == "14" and rows(app)["a.job"][4:] == ("n/a",) * 4
        assert not app.screen.query_one("#times-chart", MetricChart).display
        await pilot.press("s")  # and round again
        await _shows(app, "1h", None, None)
        assert app.screen.query_one("#times-chart", MetricChart).display

    asyncio.run(run(app, scenario))


async def _pick_queue(pilot: Any, queue: str | None, key: str = "right_square_bracket") -> None:
    """Step with `]` (or `[`) until the screen is on `queue` (None: every queue)."""
    app = pilot.app
    await until(lambda: app.home, "the queues")
    for _ in range(len(app.home["queues"]) + 1):
        await pilot.press(key)
        if app.screen.queue == queue:
            return
    raise AssertionError(f"no queue {queue}")


def test_brackets_pick_a_queue(tmp_path: Path, backend_url: str) -> None:
    app = _setup(tmp_path, backend_url)

    async def scenario(pilot: Any) -> None:
        await pilot.press("7")
        await _shows(app, "1h", None, None)
        await _pick_queue(pilot, "reports")
        await _shows(app, "1h", "reports", None)
        assert set(rows(app)) == {"c.job"}
        await _pick_queue(pilot, "default", "left_square_bracket")
        await _shows(app, "1h", "default", None)
        assert set(rows(app)) == {"a.job", "b.job"}
        await pilot.press("s", "s")  # the queue stays chosen across spans
        await _shows(app, "30d", "default", None)
        await _pick_queue(pilot, "reports")
        await _shows(app, "30d", "reports", None)

    asyncio.run(run(app, scenario))


def test_enter_narrows_the_charts_to_a_job_and_enter_or_escape_widens_them(
    tmp_path: Path, backend_url: str
) -> None:
    app = _setup(tmp_path, backend_url)

    async def choose(pilot: Any, job: str) -> None:
        table(app).move_cursor(row=table(app).get_row_index(job))
        await pilot.press("enter")

    async def scenario(pilot: Any) -> None:
        await pilot.press("7", "s")
        await _shows(app, "24h", None, None)
        await choose(pilot, "b.job")
        await _shows(app, "24h", None, "b.job")
        assert set(rows(app)) == {"a.job", "b.job", "c.job"}  # another job can be picked
        await choose(pilot, "b.job")  # the job chosen again: every job
        await _shows(app, "24h", None, None)
        await choose(pilot, "a.job")
        await _shows(app, "24h", None, "a.job")
        assert "escape" in app.screen.active_bindings  # offered in the footer now
        await pilot.press("s")  # the job stays chosen across spans
        await _shows(app, "30d", None, "a.job")
        await pilot.press("escape")
        await _shows(app, "30d", None, None)
        # With no job chosen escape is not the screen's: it does what it does elsewhere.
        assert not app.screen.check_action("every_job", ())
        assert "escape" not in app.screen.active_bindings
        await pilot.press("escape")
        assert app.current_mode == "metrics" and app.screen.job is None

    asyncio.run(run(app, scenario))
