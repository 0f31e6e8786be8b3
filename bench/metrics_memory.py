"""Memory of the metrics keys per queue per day, on Redis (`MEMORY USAGE`).

    python bench/metrics_memory.py [--jobs 3]

Starts its own redis-server on a free loopback port, fills one queue with 24 h of
per-minute buckets for each of `--jobs` job names (every minute busy: completed, failed
and retried counts, wait and run histograms spread over several buckets) and 30 days of
daily totals, then sums `MEMORY USAGE` over the metric keys. For context, BullMQ keeps
two weeks of per-minute completed/failed counts in about 120 KB per queue (its docs),
about 8.6 KB per day, counts only and per queue only. bench/control.py calls
`metrics_memory(redis_url)`.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runtime.backends import open_backend  # noqa: E402
from runtime.backends.base.metrics import (  # noqa: E402
    DAYS_KEPT,
    MINUTES_KEPT,
    MetricBatch,
    MetricBucket,
)
from runtime.backends.redis import keys  # noqa: E402
from runtime.stats import bucket_of, minute_now  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

QUEUE = "default"
BULLMQ_BYTES_PER_DAY = 120 * 1024 / 14


def busy_minute(rng: random.Random) -> MetricBucket:
    """A minute of a busy job: ~50 attempts, times spread over a factor of ~8."""
    bucket = MetricBucket([rng.randint(40, 60), rng.randint(0, 2), rng.randint(0, 3), 0, 0])
    for _ in range(bucket.counts[0]):
        run = bucket_of(rng.lognormvariate(-1.0, 0.6))  # median ~0.37 s
        wait = bucket_of(rng.lognormvariate(-4.0, 0.8))  # median ~18 ms
        bucket.run[run] = bucket.run.get(run, 0) + 1
        bucket.wait[wait] = bucket.wait.get(wait, 0) + 1
    return bucket


def fill(redis_url: str, jobs: int) -> None:
    backend = open_backend(redis_url)
    rng = random.Random(7)
    now = minute_now(time.time())
    names = [f"plugin.job_{i}" for i in range(jobs)]
    # 30 days of daily totals: one minute per past day (their minute keys expire at once).
    backend.metrics.add(
        QUEUE,
        {(job, now - day * 1440): busy_minute(rng) for job in names for day in range(DAYS_KEPT)},
    )
    for hour_start in range(now - MINUTES_KEPT + 1, now + 1, 60):
        batch: MetricBatch = {
            (job, minute): busy_minute(rng)
            for job in names
            for minute in range(hour_start, min(hour_start + 60, now + 1))
        }
        backend.metrics.add(QUEUE, batch)
    backend.close()


def metrics_memory(redis_url: str, jobs: int = 3) -> dict[str, float]:
    """Fill one queue (on an empty Redis at `redis_url`) and measure its metric keys."""
    fill(redis_url, jobs)
    conn = redis.Redis.from_url(redis_url)
    sizes = {"minutes": 0, "days": 0, "totals": 0}
    prefixes = {
        "minutes": keys.METRIC_MINUTES_PREFIX,
        "days": keys.METRIC_DAYS_PREFIX,
        "totals": keys.METRIC_TOTALS_PREFIX,
    }
    for kind, prefix in prefixes.items():
        for key in conn.scan_iter(match=f"{prefix}{QUEUE}*", count=1000):
            sizes[kind] += int(conn.memory_usage(key, samples=0) or 0)
    per_day = sizes["minutes"] + sizes["days"] / DAYS_KEPT + sizes["totals"]
    return {
        "jobs": jobs,
        "minute_keys_bytes_24h": sizes["minutes"],
        "day_keys_bytes_30d": sizes["days"],
        "totals_bytes": sizes["totals"],
        "bytes_per_queue_per_day": round(per_day),
        "bytes_per_job_minute": round(sizes["minutes"] / (jobs * MINUTES_KEPT), 1),
        "bullmq_bytes_per_queue_per_day": round(BULLMQ_BYTES_PER_DAY),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=3)
    args = parser.parse_args()
    server = RedisServer(Path(tempfile.mkdtemp(prefix="bench-redis-"))).start()
    try:
        result = metrics_memory(server.url, args.jobs)
    finally:
        server.stop()
    print(
        f"metrics of one queue, {result['jobs']} jobs busy every minute: "
        f"{result['bytes_per_queue_per_day'] / 1024:.1f} KB per day "
        f"({result['minute_keys_bytes_24h'] / 1024:.1f} KB per-minute keys for 24 h, "
        f"{result['day_keys_bytes_30d'] / 1024:.1f} KB daily totals for 30 days, "
        f"{result['totals_bytes']} B lifetime totals; "
        f"{result['bytes_per_job_minute']} B per job-minute with histograms)"
    )
    print(
        f"BullMQ for context: ~{result['bullmq_bytes_per_queue_per_day'] / 1024:.1f} KB per "
        "queue per day (120 KB per two weeks; completed/failed counts per queue only)"
    )


if __name__ == "__main__":
    main()
