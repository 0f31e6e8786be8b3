"""Job metrics: recorded in each worker process, read by `runtime stats`, the alerts and
the Prometheus exposition.

Recording never touches the backend on the job's path: `Recorder.record` adds to an
in-memory bucket per (job, minute) and a background thread flushes them every
FLUSH_SECONDS (and at shutdown) with one `backend.metrics.add` call, one round trip.

Wait and run times are kept as small fixed log-scale histograms rather than raw samples:
histograms from several worker processes for the same minute add up exactly, which
quantiles do not. Bucket i holds times in [BASE * 2^(i/2), BASE * 2^((i+1)/2)) seconds
(two buckets per doubling, from 0.1 ms to about 10 days); a quantile is reported as its
bucket's geometric middle, so it is within +-19% (2^(1/4) - 1) of the true value, the
relative-error idea of DDSketch. Hand-written because a sketch library would bring its
own serialization, larger than the ~20-byte packed minutes we store (MetricBucket).
"""

from __future__ import annotations

import atexit
import datetime
import logging
import math
import os
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

from runtime.backends.base.metrics import (
    DAYS_KEPT,
    MINUTES_KEPT,
    OUTCOMES,
    QUEUE_WIDE,
    MetricBatch,
    MetricBucket,
)
from runtime.backends.base.storage import Backend
from runtime.clock import BackendClock

log = logging.getLogger("runtime.stats")

FLUSH_SECONDS = 5.0
BASE = 1e-4  # seconds: the lower edge of bucket 1 (bucket 0 holds everything below)
STEPS = 2  # buckets per doubling
TOP = 66  # the last bucket: BASE * 2^33 s (about 10 days) and longer
QUANTILES = (0.5, 0.95)
# The engine's outcome states, as metric outcomes; other states are not counted.
OUTCOME_OF = {"completed": "completed", "failed": "failed", "retrying": "retried"}


# -- the histogram scale ---------------------------------------------------------------------
def bucket_of(seconds: float) -> int:
    if seconds < BASE:
        return 0
    return min(int(math.log2(seconds / BASE) * STEPS), TOP)


def bucket_value(index: int) -> float:
    """The bucket's geometric middle, 3 significant digits (the scale's accuracy)."""
    return float(f"{BASE * 2 ** ((index + 0.5) / STEPS):.3g}")


def quantile(histogram: dict[int, int], q: float) -> float | None:
    """The `q` quantile (nearest rank) of a histogram, or None when it is empty."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return bucket_value(index)
    raise AssertionError("unreachable")


def minute_now(now: float) -> int:
    """The minute number of `now` (the backend's clock)."""
    return int(now // 60)


# -- recording -------------------------------------------------------------------------------
# Every recorder of this process, so that whatever is still pending when the process
# exits normally is written (`flush_all`); a recorder goes when nothing else holds it.
_recorders: weakref.WeakSet[Recorder] = weakref.WeakSet()


def flush_all() -> None:
    """Flush every recorder of this process now (at exit, and between tests: a recorder's
    background flush would otherwise land seconds later, on whatever the backend holds
    by then)."""
    for recorder in list(_recorders):
        recorder.flush()


atexit.register(flush_all)


class Recorder:
    """One queue's metrics aggregated in this process, flushed in the background.

    Forked worker processes inherit the parent's recorder: the first record in a new
    process drops what it inherited (the parent flushes that itself) and starts the
    process's own flush thread."""

    def __init__(self, backend: Backend, queue: str, flush_seconds: float = FLUSH_SECONDS):
        self.backend = backend
        self.queue = queue
        self.flush_seconds = flush_seconds
        self._pid = 0
        self._lock = threading.Lock()  # guards _pending; held only briefly (the job path)
        self._flushing = threading.Lock()  # one flush at a time, its write included
        self._pending: MetricBatch = {}
        # Minutes on the backend's clock, as every reader's: hosts' clocks disagree.
        self._clock = BackendClock(backend)
        _recorders.add(self)

    def record(
        self, job: str, state: str, run_seconds: float | None, wait_seconds: float | None
    ) -> None:
        """An attempt of `job` ended in `state` (completed, failed, retrying)."""
        outcome = OUTCOME_OF.get(state)
        if outcome is None:
            return
        with self._bucket(job) as bucket:
            bucket.counts[OUTCOMES.index(outcome)] += 1
            if run_seconds is not None:
                index = bucket_of(run_seconds)
                bucket.run[index] = bucket.run.get(index, 0) + 1
            if wait_seconds is not None:
                index = bucket_of(max(wait_seconds, 0.0))
                bucket.wait[index] = bucket.wait.get(index, 0) + 1

    def record_reaped(self, recovered: int, stalled: int) -> None:
        """The reaper's expired leases; flushed at once (rare, and alerts watch them)."""
        if not recovered and not stalled:
            return
        with self._bucket(QUEUE_WIDE) as bucket:
            bucket.counts[OUTCOMES.index("recovered")] += recovered
            bucket.counts[OUTCOMES.index("stalled")] += stalled
        self.flush()

    def flush(self) -> None:
        """Write what was aggregated; on failure keep it for the next flush (minutes past
        the retention are dropped, so an outage cannot grow it without bound). Returns
        once any flush already under way has written too."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, {}
            if batch:
                self._write(batch)
                self._sync_clock()

    def _sync_clock(self) -> None:
        try:
            self._clock.sync()
        except Exception as exc:  # the backend may be down: the last offset holds
            log.debug("clock sync failed: %s", exc)

    def _write(self, batch: MetricBatch) -> None:
        try:
            self.backend.metrics.add(self.queue, batch)
        except Exception as exc:  # the backend may be down: keep the counts, never die
            log.warning("metrics flush failed, retrying later: %s", exc)
            oldest = minute_now(self._clock.now()) - MINUTES_KEPT
            with self._lock:
                for key, bucket in batch.items():
                    if key[1] >= oldest:
                        self._pending.setdefault(key, MetricBucket()).merge(bucket)

    def _bucket(self, job: str) -> _Locked:
        if self._pid != os.getpid():
            self._adopt_process()
        return _Locked(self, (job, minute_now(self._clock.now())))

    def _adopt_process(self) -> None:
        self._pid = os.getpid()
        # The parent's locks may have been held at the fork.
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._pending = {}
        threading.Thread(target=self._flush_forever, name="MetricsFlusher", daemon=True).start()

    def _flush_forever(self) -> None:
        while True:
            time.sleep(self.flush_seconds)
            self.flush()


class _Locked:
    """`with recorder._bucket(job) as bucket`: the pending bucket of this minute, locked."""

    def __init__(self, recorder: Recorder, key: tuple[str, int]) -> None:
        self.recorder = recorder
        self.key = key

    def __enter__(self) -> MetricBucket:
        self.recorder._lock.acquire()
        return self.recorder._pending.setdefault(self.key, MetricBucket())

    def __exit__(self, *exc: object) -> None:
        self.recorder._lock.release()


# -- reading ---------------------------------------------------------------------------------
def recent_counts(backend: Backend, queue: str, minutes: int) -> dict[str, int]:
    """Counts by OUTCOMES of `queue` over the last `minutes` minutes (this one included)."""
    last = minute_now(backend.now())
    batch = backend.metrics.minutes(queue, last - minutes + 1, last)
    return _counts(_sum(batch.values()))


def recent_minutes(
    backend: Backend, queues: list[str], minutes: int, now: float
) -> dict[str, list[dict[str, int]]]:
    """Per queue, counts by OUTCOMES of each of the last `minutes` minutes before `now`
    (the backend's clock), oldest first."""
    last = minute_now(now)
    first = last - minutes + 1
    series = {}
    for queue in queues:
        per_minute: dict[int, MetricBucket] = {}
        for (_, minute), bucket in backend.metrics.minutes(queue, first, last).items():
            per_minute.setdefault(minute, MetricBucket()).merge(bucket)
        series[queue] = [_counts(per_minute.get(m, MetricBucket())) for m in range(first, last + 1)]
    return series


def today_counts(backend: Backend, queues: list[str], now: float) -> dict[str, int]:
    """Counts by OUTCOMES of the UTC day of `now` (the backend's clock) over `queues`."""
    today = minute_now(now) // 1440
    total = MetricBucket()
    for queue in queues:
        for bucket in backend.metrics.days(queue, today).values():
            total.merge(bucket)
    return _counts(total)


def job_summaries(
    backend: Backend, queues: list[str], minutes: int = 60, job: str | None = None
) -> list[dict[str, Any]]:
    """Per (queue, job) over the last `minutes`: counts and wait/run quantiles."""
    last = minute_now(backend.now())
    rows = []
    for queue in queues:
        per_job: dict[str, list[MetricBucket]] = {}
        for (name, _), bucket in backend.metrics.minutes(queue, last - minutes + 1, last).items():
            if name != QUEUE_WIDE and (job is None or name == job):
                per_job.setdefault(name, []).append(bucket)
        rows += [
            {"queue": queue, "job": name, **_summary(_sum(buckets))}
            for name, buckets in sorted(per_job.items())
        ]
    return rows


def queue_stats(
    backend: Backend, queue: str | None = None, job: str | None = None
) -> dict[str, Any]:
    """`runtime stats`: throughput, success rate, wait and run quantiles of the last hour,
    the last 60 minutes one by one and 30 days of daily totals, for one queue (every
    queue when None) and one job (every job when None)."""
    queues = [queue] if queue is not None else backend.known_queues()
    now = minute_now(backend.now())
    series: dict[int, MetricBucket] = {}
    days: dict[int, MetricBucket] = {}
    today = now // 1440
    for name in queues:
        for (_, minute), bucket in backend.metrics.minutes(
            name, now - MINUTES_KEPT + 1, now, job
        ).items():
            series.setdefault(minute, MetricBucket()).merge(bucket)
        for (_, date), bucket in backend.metrics.days(name, today - DAYS_KEPT + 1, job).items():
            days.setdefault(date, MetricBucket()).merge(bucket)
    hour = _sum(series.get(m, MetricBucket()) for m in range(now - 59, now + 1))
    day = _sum(series.values())
    return {
        "queue": queue,
        "job": job,
        "throughput": {
            "per_minute": round(_processed(hour) / 60, 2),
            "per_hour": _processed(hour),
            "per_day": _processed(day),
        },
        "success_rate": _success_rate(day),
        "last_hour": _summary(hour),
        "last_day": _counts(day),
        "minutes": [
            _minute_row(m, series.get(m, MetricBucket())) for m in range(now - 59, now + 1)
        ],
        "days": [
            _day_row(d, days.get(d, MetricBucket()))
            for d in range(today - DAYS_KEPT + 1, today + 1)
        ],
        "jobs": job_summaries(backend, queues, 60, job),
    }


def _sum(buckets: Any) -> MetricBucket:
    total = MetricBucket()
    for bucket in buckets:
        total.merge(bucket)
    return total


def _counts(bucket: MetricBucket) -> dict[str, int]:
    return dict(zip(OUTCOMES, bucket.counts, strict=True))


def _quantiles(histogram: dict[int, int]) -> dict[str, float | None]:
    return {f"p{round(q * 100)}": quantile(histogram, q) for q in QUANTILES}


def _summary(bucket: MetricBucket) -> dict[str, Any]:
    return {**_counts(bucket), "wait": _quantiles(bucket.wait), "run": _quantiles(bucket.run)}


def _processed(bucket: MetricBucket) -> int:
    """Jobs that finished: completed or failed for good (a retried attempt did not)."""
    return bucket.count("completed") + bucket.count("failed")


def _success_rate(bucket: MetricBucket) -> float | None:
    processed = _processed(bucket)
    return round(bucket.count("completed") / processed, 4) if processed else None


def _minute_row(minute: int, bucket: MetricBucket) -> dict[str, Any]:
    return {"minute": _utc_minute(minute), **_figures(bucket)}


def _utc_minute(minute: int) -> str:
    return datetime.datetime.fromtimestamp(minute * 60, datetime.UTC).strftime("%Y-%m-%dT%H:%MZ")


def _figures(bucket: MetricBucket) -> dict[str, Any]:
    """Counts by OUTCOMES, then wait_p50, wait_p95, run_p50, run_p95 (flat: one row)."""
    wait, run = _quantiles(bucket.wait), _quantiles(bucket.run)
    return {
        **_counts(bucket),
        **{f"wait_{k}": v for k, v in wait.items()},
        **{f"run_{k}": v for k, v in run.items()},
    }


def _day_row(day: int, bucket: MetricBucket) -> dict[str, Any]:
    at = datetime.datetime.fromtimestamp(day * 86400, datetime.UTC)
    return {"day": at.strftime("%Y-%m-%d"), **_counts(bucket)}


# -- spans (the dashboard's Metrics screen) --------------------------------------------------
@dataclass(frozen=True)
class Span:
    """A span of time read as `points` points of `minutes` minutes each, the newest point
    holding now. Per-minute buckets (MINUTES_KEPT) keep histograms; older spans read the
    daily totals, which keep counts only."""

    points: int
    minutes: int

    @property
    def daily(self) -> bool:
        return self.minutes >= 1440


# 24 hours of one-hour points fit in the 24 hours of minutes kept; 30 days are the daily
# totals (DAYS_KEPT), without percentiles.
SPANS = {"1h": Span(60, 1), "24h": Span(24, 60), "30d": Span(DAYS_KEPT, 1440)}
assert SPANS["24h"].points * SPANS["24h"].minutes <= MINUTES_KEPT


def span_stats(
    backend: Backend, queues: list[str], span: str, job: str | None = None
) -> dict[str, Any]:
    """`queues`' metrics over `span` (a SPANS key): per point (oldest first) the counts by
    OUTCOMES and wait/run p50/p95 (None for a daily span: its buckets keep no histograms),
    the totals of the span, both of `job` only when given, and per job the span's totals
    (every job, so that another can be picked). One metrics read per queue."""
    shape = SPANS[span]
    last = minute_now(backend.now()) // shape.minutes
    first = last - shape.points + 1
    points: dict[int, MetricBucket] = {}
    per_job: dict[str, MetricBucket] = {}
    for queue in queues:
        for (name, at), bucket in _span_read(backend, queue, shape, first, last).items():
            if name != QUEUE_WIDE:
                per_job.setdefault(name, MetricBucket()).merge(bucket)
            if job is None or name == job:
                points.setdefault(at // shape.minutes, MetricBucket()).merge(bucket)
    series = {p: points.get(p, MetricBucket()) for p in range(first, last + 1)}
    return {
        "span": span,
        "job": job,
        "percentiles": not shape.daily,
        "points": [_point(p * shape.minutes, bucket) for p, bucket in series.items()],
        "totals": _summary(_sum(series.values())),
        "jobs": [{"job": name, **_summary(b)} for name, b in sorted(per_job.items())],
    }


def _span_read(backend: Backend, queue: str, shape: Span, first: int, last: int) -> MetricBatch:
    """The buckets of points `first`..`last` of `queue`, keyed (job, minute since the
    epoch): daily totals read as their day's first minute."""
    if shape.daily:
        return {
            (name, day * 1440): b for (name, day), b in backend.metrics.days(queue, first).items()
        }
    return backend.metrics.minutes(queue, first * shape.minutes, (last + 1) * shape.minutes - 1)


def _point(minute: int, bucket: MetricBucket) -> dict[str, Any]:
    return {"at": _utc_minute(minute), **_figures(bucket)}
