"""Throughput and pickup latency: the runtime against plain Huey on the same Redis.

    python bench/throughput.py [--jobs 20000] [--runs 3] [--workers 4]

Starts its own redis-server on a free loopback port. For each run it measures, in one
process each time, against a freshly flushed Redis:
- drain: N no-op jobs queued first, then 4 thread workers started; time until all ran.
  Runtime (leases, job records, counters) vs plain PriorityRedisHuey and RedisHuey;
- enqueue: single `Runtime.enqueue` calls, and `enqueue_many` of 100,000;
- pickup latency on idle workers: one job at a time, enqueue -> function starts.
Prints medians over the runs; ratios are taken per run (against plain Huey measured in
the same run) and their median printed. Also: the runtime on SQLite vs plain SqliteHuey.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis
from huey import Huey, PriorityRedisHuey, RedisHuey, SqliteHuey
from huey.consumer import Consumer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import noop_jobs  # noqa: E402
from runtime.config import Config, PluginsSection, QueueSection  # noqa: E402
from runtime.engine import RuntimeHuey  # noqa: E402
from runtime.producer import Runtime  # noqa: E402
from runtime.worker import QueueConsumer  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

POLL = 0.005


def wait_until(done: Callable[[], bool], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark did not finish")
        time.sleep(POLL)


# -- the runtime ---------------------------------------------------------------------------
def runtime_for(url: str, workers: int) -> Runtime:
    config = Config(
        queues={"default": QueueSection(workers=workers)},
        plugins=PluginsSection(modules=["bench.noop_jobs"], autoload=False),
    )
    config.runtime.backend = url
    return Runtime(config=config)


def start_runtime_consumer(rt: Runtime) -> QueueConsumer:
    huey = RuntimeHuey("default", rt.backend, list(rt.registry), lease_seconds=15)
    consumer = QueueConsumer(huey, rt.config)
    consumer.start()
    return consumer


def completed(rt: Runtime) -> int:
    return rt.backend.queue_counts(["default"])["default"]["completed"]


def runtime_drain(url: str, jobs: int, workers: int) -> float:
    rt = runtime_for(url, workers)
    for start in range(0, jobs, 5000):
        rt.enqueue_many("bench.noop", [{}] * min(5000, jobs - start))
    consumer = start_runtime_consumer(rt)
    started = time.perf_counter()
    wait_until(lambda: completed(rt) >= jobs)
    elapsed = time.perf_counter() - started
    consumer.stop(graceful=True)
    rt.close()
    return jobs / elapsed


def runtime_enqueue(url: str, single: int, many: int) -> tuple[float, float]:
    rt = runtime_for(url, 1)
    started = time.perf_counter()
    for _ in range(single):
        rt.enqueue("bench.noop", {})
    single_rate = single / (time.perf_counter() - started)
    payloads: list[dict[str, object]] = [{}] * many
    started = time.perf_counter()
    rt.enqueue_many("bench.noop", payloads)
    many_rate = many / (time.perf_counter() - started)
    rt.close()
    return single_rate, many_rate


def runtime_latency(url: str, samples: int, workers: int) -> list[float]:
    rt = runtime_for(url, workers)
    consumer = start_runtime_consumer(rt)
    time.sleep(0.5)  # let every worker block on its claim: we measure idle pickup
    latencies = []
    for seq in range(samples):
        sent = time.perf_counter()
        rt.enqueue("bench.stamp", {"seq": seq})
        wait_until(lambda s=seq: s in noop_jobs.STARTED)  # type: ignore[misc]
        latencies.append(noop_jobs.STARTED[seq] - sent)
        time.sleep(0.01)
    consumer.stop(graceful=True)
    rt.close()
    noop_jobs.STARTED.clear()
    return latencies


# -- plain Huey ----------------------------------------------------------------------------
def huey_drain(make_huey: Callable[[], Huey], jobs: int, workers: int) -> float:
    huey = make_huey()
    counter = Counter()
    task = huey.task()(counter.hit)
    pipeline_enqueue(huey, task, jobs)
    consumer = Consumer(huey, workers=workers, worker_type="thread", periodic=False)
    consumer.start()
    started = time.perf_counter()
    wait_until(lambda: counter.value >= jobs)
    elapsed = time.perf_counter() - started
    consumer.stop(graceful=True)
    return jobs / elapsed


def huey_latency(url: str, samples: int, workers: int) -> list[float]:
    huey = PriorityRedisHuey("bench", url=url, results=False)
    started: dict[int, float] = {}
    task = huey.task()(lambda seq: started.__setitem__(seq, time.perf_counter()))
    consumer = Consumer(huey, workers=workers, worker_type="thread", periodic=False)
    consumer.start()
    time.sleep(0.5)
    latencies = []
    for seq in range(samples):
        sent = time.perf_counter()
        task(seq)
        wait_until(lambda s=seq: s in started)  # type: ignore[misc]
        latencies.append(started[seq] - sent)
        time.sleep(0.01)
    consumer.stop(graceful=True)
    return latencies


class Counter:
    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def hit(self) -> None:
        with self._lock:
            self.value += 1


def pipeline_enqueue(huey: Huey, task: Callable[[], object], jobs: int) -> None:
    """Queue the baseline's jobs without timing it: only its drain is compared."""
    immediate_results = [task.s() for _ in range(jobs)]  # type: ignore[attr-defined]
    for item in immediate_results:
        huey.enqueue(item)


# -- report --------------------------------------------------------------------------------
def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def one_run(url: str, args: argparse.Namespace) -> dict[str, float]:
    flush = redis.Redis.from_url(url).flushall
    results: dict[str, float] = {}
    flush()
    results["huey_priority_drain"] = huey_drain(
        lambda: PriorityRedisHuey("bench", url=url, results=False), args.jobs, args.workers
    )
    flush()
    results["huey_list_drain"] = huey_drain(
        lambda: RedisHuey("bench", url=url, results=False), args.jobs, args.workers
    )
    flush()
    results["runtime_drain"] = runtime_drain(url, args.jobs, args.workers)
    # Ratios per run, then their median: both sides of a ratio share the run's noise.
    results["ratio_priority"] = results["runtime_drain"] / results["huey_priority_drain"]
    results["ratio_list"] = results["runtime_drain"] / results["huey_list_drain"]
    flush()
    single, many = runtime_enqueue(url, args.single, args.many)
    results["runtime_enqueue"] = single
    results["runtime_enqueue_many"] = many
    flush()
    ours = runtime_latency(url, args.samples, args.workers)
    results["runtime_p50_ms"] = percentile(ours, 50) * 1000
    results["runtime_p99_ms"] = percentile(ours, 99) * 1000
    flush()
    theirs = huey_latency(url, args.samples, args.workers)
    results["huey_p50_ms"] = percentile(theirs, 50) * 1000
    results["huey_p99_ms"] = percentile(theirs, 99) * 1000
    results.update(sqlite_drains(args))
    return results


def sqlite_drains(args: argparse.Namespace) -> dict[str, float]:
    """The embedded default too: the runtime on SQLite against plain SqliteHuey."""
    folder = Path(tempfile.mkdtemp(prefix="bench-sqlite-"))
    plain = huey_drain(
        lambda: SqliteHuey("bench", filename=str(folder / "huey.db"), results=False),
        args.jobs,
        args.workers,
    )
    ours = runtime_drain(f"sqlite:///{folder / 'runtime.db'}", args.jobs, args.workers)
    return {"huey_sqlite_drain": plain, "runtime_sqlite_drain": ours, "ratio_sqlite": ours / plain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--single", type=int, default=10_000)
    parser.add_argument("--many", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    server = RedisServer(Path(tempfile.mkdtemp(prefix="bench-redis-"))).start()
    try:
        runs = []
        for number in range(1, args.runs + 1):
            runs.append(one_run(server.url, args))
            print(f"run {number}: " + ", ".join(f"{k}={v:,.1f}" for k, v in runs[-1].items()))
    finally:
        server.stop()
    report(runs, args)


def report(runs: list[dict[str, float]], args: argparse.Namespace) -> None:
    med = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    print(
        f"\nmedian of {len(runs)} runs; {platform.machine()}, {os.cpu_count()} cores"
        f", Python {platform.python_version()}, redis-server on loopback"
    )
    print(f"drain {args.jobs:,} no-op jobs, {args.workers} threads:")
    print(f"  plain PriorityRedisHuey  {med['huey_priority_drain']:>10,.0f} jobs/s")
    print(f"  plain RedisHuey          {med['huey_list_drain']:>10,.0f} jobs/s")
    print(
        f"  runtime on Redis         {med['runtime_drain']:>10,.0f} jobs/s   "
        f"{med['ratio_priority']:.2f}x PriorityRedisHuey, {med['ratio_list']:.2f}x RedisHuey"
    )
    print(f"  plain SqliteHuey         {med['huey_sqlite_drain']:>10,.0f} jobs/s")
    print(
        f"  runtime on SQLite        {med['runtime_sqlite_drain']:>10,.0f} jobs/s   "
        f"{med['ratio_sqlite']:.2f}x SqliteHuey"
    )
    print(
        f"enqueue (runtime): single {med['runtime_enqueue']:,.0f} jobs/s; "
        f"enqueue_many of {args.many:,}: {med['runtime_enqueue_many']:,.0f} jobs/s"
    )
    print(
        f"pickup latency on idle workers ({args.samples} samples): runtime p50 "
        f"{med['runtime_p50_ms']:.2f} ms, p99 {med['runtime_p99_ms']:.2f} ms; plain Huey p50 "
        f"{med['huey_p50_ms']:.2f} ms, p99 {med['huey_p99_ms']:.2f} ms"
    )


if __name__ == "__main__":
    main()
