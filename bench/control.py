"""Control-plane reads at scale: `runtime status` and job-list pages under a big backlog.

    python bench/control.py [--waiting 1000000] [--failed 100000] [--queues 50] [--runs 25]

Fills a throwaway redis-server (started here on a free loopback port) and a temp SQLite
file with `--failed` dead-lettered jobs, then `--waiting` waiting jobs on queue `default`,
plus one job on each of `--queues` other queues (status must not cost more with more
queues). Then times, through `runtime.control` exactly as the CLI and the dashboard call
it, the median of `--runs` calls of:
- status: every queue's counts, paused flags, workers, alerts, cron;
- a 50-row page: newest first; the dead-letter set; waiting 500,000 deep by cursor; and
  filtered by a job name that matches nothing (the worst case: one SCAN_BUDGET walk).
Times are wall-clock in this process, so they include the loopback round trip: an upper
bound of backend time. The baseline, measured in the same run, is the cheapest call each
backend has: a Redis PING, and plain Huey's `pending_count()` on its SQLite storage.
Last, the metrics keys' memory per queue per day (bench/metrics_memory.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from huey import SqliteHuey

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runtime import control  # noqa: E402
from runtime.config import Config, PluginsSection  # noqa: E402
from runtime.producer import Runtime  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

CHUNK = 50_000
BUDGET_MS = 50.0


def runtime_for(url: str) -> Runtime:
    config = Config(plugins=PluginsSection(modules=["bench.noop_jobs"], autoload=False))
    config.runtime.backend = url
    return Runtime(config=config)


def fill(rt: Runtime, waiting: int, failed: int, queues: int) -> None:
    """`failed` dead-lettered jobs first (claimed and failed one by one, as workers do),
    then `waiting` waiting ones, then one job on each extra queue."""
    started = time.perf_counter()
    enqueue(rt, failed)
    error = {"type": "RuntimeError", "message": "bench", "traceback": None}
    for _ in range(failed):
        claim = rt.backend.claim("default", 60, 0)
        assert claim is not None
        rt.backend.fail(claim.job_id, claim.token, error)
    enqueue(rt, waiting)
    for n in range(queues):
        rt.enqueue("bench.noop", {}, queue=f"extra-{n:02d}")
    print(f"  filled in {time.perf_counter() - started:.0f}s", flush=True)


def enqueue(rt: Runtime, count: int) -> None:
    for start in range(0, count, CHUNK):
        rt.enqueue_many("bench.noop", [{}] * min(CHUNK, count - start))


def median_ms(call: Callable[[], Any], runs: int) -> float:
    call()  # warm: scripts loaded, connections open
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(rt: Runtime, baseline: Callable[[], Any], runs: int) -> dict[str, float]:
    backend, config = rt.backend, rt.config
    deep = control.list_jobs(backend, state="waiting", limit=1)
    assert deep["jobs"], "the backlog is empty"
    return {
        "baseline": median_ms(baseline, runs),
        "status": median_ms(lambda: control.status(backend, config), runs),
        "page: newest": median_ms(lambda: control.list_jobs(backend, limit=50), runs),
        "page: failed": median_ms(
            lambda: control.list_jobs(backend, state="failed", limit=50), runs
        ),
        "page: waiting, 500k deep": median_ms(
            lambda: control.list_jobs(backend, state="waiting", limit=50, cursor="500000:default"),
            runs,
        ),
        "page: job filter, no match": median_ms(
            lambda: control.list_jobs(backend, job="bench.nothing", limit=50), runs
        ),
    }


def report(name: str, figures: dict[str, float]) -> None:
    base = figures["baseline"]
    print(f"\n{name}  (baseline {base:.3f} ms)")
    for what, ms in figures.items():
        if what == "baseline":
            continue
        verdict = "ok" if ms < BUDGET_MS else f"OVER {BUDGET_MS:.0f} ms"
        print(f"  {what:<28}{ms:8.2f} ms  {ms / base:8.1f}x baseline  {verdict}")


def bench_redis(args: argparse.Namespace, workdir: Path) -> None:
    server = RedisServer(workdir / "redis").start()
    try:
        rt = runtime_for(server.url)
        print(f"Redis {server.url}", flush=True)
        fill(rt, args.waiting, args.failed, args.queues)
        ping = redis.Redis.from_url(server.url).ping
        report("Redis", measure(rt, ping, args.runs))
        memory(server.url)
    finally:
        server.stop()


def bench_sqlite(args: argparse.Namespace, workdir: Path) -> None:
    rt = runtime_for(f"sqlite:///{workdir / 'runtime.db'}")
    print(f"\nSQLite {workdir / 'runtime.db'}", flush=True)
    fill(rt, args.waiting, args.failed, args.queues)
    plain = SqliteHuey(filename=str(workdir / "huey.db"))
    report("SQLite", measure(rt, plain.pending_count, args.runs))


def memory(url: str) -> None:
    try:
        from bench.metrics_memory import metrics_memory
    except ImportError:
        print("  metrics memory: bench/metrics_memory.py is missing")
        return
    figures = metrics_memory(url)
    print("  metrics keys: " + ", ".join(f"{k} {v}" for k, v in figures.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--waiting", type=int, default=1_000_000)
    parser.add_argument("--failed", type=int, default=100_000)
    parser.add_argument("--queues", type=int, default=50)
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--backend", choices=["redis", "sqlite", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend in ("redis", "both"):
            bench_redis(args, Path(tmp))
        if args.backend in ("sqlite", "both"):
            bench_sqlite(args, Path(tmp))


if __name__ == "__main__":
    main()
