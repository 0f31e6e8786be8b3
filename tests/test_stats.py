"""Metrics: recording and flushing, reading (runtime.stats), retention, the CLI and the
Prometheus endpoint, on both real backends."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from runtime import control, stats
from runtime.backends.base.metrics import MetricBucket, pack_buckets, unpack_buckets
from runtime.backends.base.storage import Backend
from runtime.config import Config, PluginsSection
from runtime.engine import RuntimeHuey
from runtime.errors import BadInput
from runtime.producer import Runtime
from tests.helpers import (
    RUN,
    SPAN_TOTALS,
    TEST_PLUGIN,
    WAIT,
    Daemon,
    record_metric_spans,
    run_cli,
    wait_for,
    write_config,
)
from tests.redis_server import free_port

ACCURACY = 0.19  # the histogram's relative error (runtime/stats.py)


def close_to(value: float | None, expected: float) -> bool:
    return value is not None and abs(value - expected) <= ACCURACY * expected


def test_recorded_outcomes_read_back_per_queue_and_job(backend: Backend) -> None:
    recorder = stats.Recorder(backend, "default")
    for _ in range(3):
        recorder.record("a.job", "completed", 0.2, 0.01)
    recorder.record("a.job", "retrying", 0.2, None)
    recorder.record("b.job", "failed", 2.0, 0.5)
    recorder.record("b.job", "canceled", 1.0, None)  # not a counted outcome
    recorder.flush()
    counts = stats.recent_counts(backend, "default", 10)
    assert counts == {"completed": 3, "failed": 1, "retried": 1, "stalled": 0, "recovered": 0}
    report = stats.queue_stats(backend, "default", "a.job")
    assert report["last_hour"]["completed"] == 3 and report["last_hour"]["failed"] == 0
    assert report["success_rate"] == 1.0
    assert report["throughput"]["per_hour"] == 3
    assert close_to(report["last_hour"]["run"]["p50"], 0.2)
    assert close_to(report["last_hour"]["wait"]["p95"], 0.01)
    assert report["minutes"][-1]["completed"] == 3 and len(report["minutes"]) == 60
    assert report["days"][-1]["retried"] == 1 and len(report["days"]) == 30
    everything = stats.queue_stats(backend)
    assert backend.known_queues() == [] or everything["last_hour"]["completed"] == 3
    rows = {row["job"]: row for row in stats.queue_stats(backend, "default")["jobs"]}
    assert rows["b.job"]["failed"] == 1 and close_to(rows["b.job"]["run"]["p50"], 2.0)


def test_buckets_of_several_processes_add_up(backend: Backend) -> None:
    first, second = stats.Recorder(backend, "q"), stats.Recorder(backend, "q")
    for i in range(1, 101):  # 1..100 ms spread over two "processes"
        (first if i % 2 else second).record("job", "completed", i / 1000, None)
    first.flush()
    second.flush()
    summary = stats.job_summaries(backend, ["q"])[0]
    assert summary["completed"] == 100
    assert close_to(summary["run"]["p50"], 0.050)
    assert close_to(summary["run"]["p95"], 0.095)
    totals = backend.metrics.totals(["q"])
    assert totals == {("q", "job", "completed"): 100}


def test_reaped_leases_are_counted_per_queue_at_once(backend: Backend) -> None:
    stats.Recorder(backend, "default").record_reaped(recovered=2, stalled=1)  # no flush call
    counts = stats.recent_counts(backend, "default", 10)
    assert (counts["recovered"], counts["stalled"]) == (2, 1)


def test_quantiles_of_the_histogram_scale() -> None:
    for seconds in (0.0003, 0.012, 1.5, 42.0, 3600.0):
        assert close_to(stats.bucket_value(stats.bucket_of(seconds)), seconds)
    assert stats.quantile({}, 0.5) is None
    assert stats.bucket_of(0.0) == 0 and stats.bucket_of(1e9) == stats.TOP


def test_packed_bucket_round_trips() -> None:
    bucket = MetricBucket([5, 0, 1, 0, 0], {40: 3, 43: 1}, {})
    assert bucket.encode() == "35014d030010"
    assert MetricBucket.decode(bucket.encode()) == bucket
    several = [bucket, MetricBucket(), MetricBucket([70, 0, 0, 0, 9], {}, {0: 1, 66: 600})]
    assert unpack_buckets(pack_buckets([*several, MetricBucket()]))[:3] == several


def test_old_buckets_are_pruned_or_expired(backend: Backend) -> None:
    now = stats.minute_now(time.time())
    old_minute, old_day_minute = now - 25 * 60, now - 40 * 1440
    batch = {
        ("job", now): MetricBucket([1, 0, 0, 0, 0]),
        ("job", old_minute): MetricBucket([7, 0, 0, 0, 0]),
        ("job", old_day_minute): MetricBucket([9, 0, 0, 0, 0]),
    }
    backend.metrics.add("default", batch)
    backend.metrics.prune("default", time.time())  # Redis: the keys expired by themselves
    kept = backend.metrics.minutes("default", now - 50 * 1440, now)
    assert kept == {("job", now): MetricBucket([1, 0, 0, 0, 0])}
    days = backend.metrics.days("default", 0)  # the 25-hour-old minute's day is kept
    assert sorted(days) == sorted({("job", old_minute // 1440), ("job", now // 1440)})
    # Lifetime totals never shrink: Prometheus counters.
    assert backend.metrics.totals(["default"]) == {("default", "job", "completed"): 17}


def test_engine_records_wait_and_run_times(backend: Backend) -> None:
    rt = Runtime(backend, config=Config(plugins=PluginsSection(modules=[str(TEST_PLUGIN)])))
    rt.enqueue("diagnostics.echo", {"message": "hi"})
    rt.enqueue("diagnostics.fail", {"times": 9})
    huey = RuntimeHuey("default", backend, list(rt.registry), lease_seconds=15, claim_timeout=0.2)
    for _ in range(2):
        task = huey.dequeue()
        assert task is not None
        huey.execute(task)
    huey.stats.flush()
    rows = {row["job"]: row for row in stats.job_summaries(backend, ["default"])}
    assert rows["diagnostics.echo"]["completed"] == 1
    assert rows["diagnostics.fail"]["retried"] == 1
    assert rows["diagnostics.echo"]["wait"]["p50"] is not None
    assert rows["diagnostics.echo"]["run"]["p50"] is not None


def test_stats_and_metrics_commands(backend: Backend, backend_url: str, tmp_path: Path) -> None:
    recorder = stats.Recorder(backend, "default")
    recorder.record("a.job", "completed", 0.2, 0.01)
    recorder.record("a.job", "failed", 0.4, 0.01)
    recorder.flush()
    config = write_config(tmp_path, backend_url)
    done = run_cli("stats", "-c", str(config), "--queue", "default", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["last_hour"]["completed"] == 1 and report["success_rate"] == 0.5
    table = run_cli("stats", "-c", str(config), "--queue", "default")
    assert table.returncode == 0 and "a.job" in table.stdout
    unknown = run_cli("stats", "-c", str(config), "--queue", "nope")
    assert unknown.returncode == 2 and "unknown queue 'nope'" in unknown.stderr
    exposed = run_cli("metrics", "-c", str(config))
    assert exposed.returncode == 0, exposed.stderr
    assert 'runtime_jobs_total{job="a.job",outcome="failed",queue="default"} 1.0' in exposed.stdout
    assert 'runtime_queue_jobs{queue="default",state="waiting"}' in exposed.stdout
    assert 'runtime_job_run_seconds{job="a.job",quantile="0.5",queue="default"}' in exposed.stdout
    assert 'runtime_alerts_firing{severity="critical"}' in exposed.stdout


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


@pytest.mark.slow
def test_daemon_serves_metrics_and_healthz(backend_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, backend_url, workers=1)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with Daemon(config, "--metrics-port", str(port)) as daemon:
        status, body = wait_for(lambda: get(base + "/healthz")[0] and get(base + "/healthz"))
        assert status == 200 and json.loads(body)["status"] == "ok"
        status, body = get(base + "/metrics")
        assert status == 200 and "runtime_queue_jobs" in body
        # The daemon publishes its heartbeat before starting its one worker process; once
        # the worker's shows, both are there, and only the worker counts as one.
        served = 'runtime_queue_workers{queue="default"} 1.0'
        body = wait_for(lambda: served in (text := get(base + "/metrics")[1]) and text)
        assert "runtime_workers_live 1.0" in body
        assert get(base + "/nothing")[0] == 404
        assert daemon.terminate() == 0


# -- spans (the dashboard's Metrics screen) ---------------------------------------------------
def _counts(report: dict[str, Any]) -> tuple[int, int, int]:
    totals = report["totals"]
    return totals["completed"], totals["failed"], totals["retried"]


@pytest.mark.parametrize("span", sorted(SPAN_TOTALS))
def test_span_totals_per_queue_and_job(backend: Backend, span: str) -> None:
    record_metric_spans(backend)
    for (queue, job), expected in SPAN_TOTALS[span].items():
        queues = [queue] if queue else backend.known_queues()
        report = stats.span_stats(backend, queues, span, job)
        assert _counts(report) == expected, (span, queue, job)
        # The points add up to the totals, and the series is as long as the span.
        assert sum(point["completed"] for point in report["points"]) == expected[0]
        assert len(report["points"]) == stats.SPANS[span].points


def test_span_points_and_percentiles(backend: Backend) -> None:
    record_metric_spans(backend)
    hour = stats.span_stats(backend, ["default"], "1h", "a.job")
    assert hour["percentiles"] and hour["points"][-1]["completed"] == 3  # this minute
    assert close_to(hour["totals"]["run"]["p50"], RUN)
    assert close_to(hour["totals"]["wait"]["p95"], WAIT)
    assert close_to(hour["points"][-1]["run_p95"], RUN)
    assert hour["points"][0]["run_p50"] is None  # a minute without jobs has no percentile
    day = stats.span_stats(backend, ["default"], "24h", "a.job")
    # This minute's 3 are in this hour's point, or the last one's a moment after the hour.
    assert day["points"][-1]["completed"] + day["points"][-2]["completed"] == 3
    assert [p["completed"] for p in day["points"]].count(4) == 1  # three hours back
    month = stats.span_stats(backend, ["default"], "30d")
    assert not month["percentiles"]  # daily totals keep counts only
    assert month["totals"]["run"] == {"p50": None, "p95": None}
    assert month["points"][-4]["completed"] == 7  # three days back
    rows = {row["job"]: row for row in month["jobs"]}
    assert (rows["a.job"]["completed"], rows["b.job"]["failed"]) == (14, 1)


def test_metric_span_refuses_an_unknown_span_or_queue(backend: Backend) -> None:
    config = Config()
    with pytest.raises(BadInput, match="unknown span"):
        control.metric_span(backend, config, None, "7d")
    with pytest.raises(BadInput, match="unknown queue"):
        control.metric_span(backend, config, "nope", "1h")
