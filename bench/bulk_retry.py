"""Bulk retry of a big dead-letter set: `control.retry_all` memory and speed.

    python bench/bulk_retry.py [--jobs 100000] [--runs 3] [--backend both] [--no-old]

For each backend (Redis on a redis-server started here on a free loopback port, SQLite on
a temp file) and each run: seeds `--jobs` dead-lettered jobs of `bench.noop` on queue
`default` (enqueue_many, a claim each, then the reaper dead-letters them as stalled; not
timed), then retries them all with `runtime.control.retry_all` in a fresh subprocess,
which reports its resident memory just before the call (the baseline: interpreter,
runtime, plugin, connection), its peak during the call, and the call's jobs/s. The same
run then seeds again and measures the retry_all of before the chunked rewrite (every
failed record paged into one list, then one requeue call per job), so the ratios compare
both on the same machine and data.
Prints medians over the runs; targets (printed, not asserted): peak RSS under 100 MB and
over 20,000 jobs/s. Linux only (the peak during the call is /proc's VmHWM, reset first).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.seeding import dead_letter, runtime_for  # noqa: E402
from runtime import control  # noqa: E402
from runtime.messages import compose, dumps  # noqa: E402
from runtime.producer import Runtime  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

PEAK_MB_TARGET = 100.0
RATE_TARGET = 20_000.0
MB = 1024 * 1024
METHODS = ("chunked", "old")


# -- seeding (not measured) ------------------------------------------------------------------
def seed(url: str, jobs: int) -> float:
    """`jobs` failed jobs on queue `default`, nothing else (whatever the last run left is
    purged first), as workers leave them (bench/seeding.py). Returns the seconds it took."""
    started = time.perf_counter()
    rt = runtime_for(url)
    rt.backend.purge_queue("default")
    dead_letter(rt, {"default": jobs})
    rt.close()
    return time.perf_counter() - started


# -- the measured process --------------------------------------------------------------------
def old_retry_all(rt: Runtime) -> int:
    """retry_all as it was before the chunked rewrite (runtime/control.py at 9fc4279, and
    unchanged on main until this branch), with the message composed as it composed it."""
    dead: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = rt.backend.list_jobs(state="failed", limit=1000, cursor=cursor)
        dead += page.jobs
        if (cursor := page.next_cursor) is None:
            break
    retried = 0
    for row in dead:
        spec = rt.registry.get(row["job"])
        options = spec.message_options(row["priority"] or 0)
        data = compose(row["id"], spec.name, dumps(row["payload"] or {}), options)
        retried += rt.backend.requeue(row["id"], data)
    return retried


def child(method: str, url: str) -> None:
    """Run one retry in this process and print what it measured, as JSON: the resident
    memory before the call, its peak during the call (the kernel's high-water mark, reset
    just before: loading the plugins peaks above what stays resident), and the process's
    lifetime peak (ru_maxrss)."""
    import psutil

    rt = runtime_for(url)
    rt.backend.ping()
    before = psutil.Process().memory_info().rss
    Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM := the current RSS
    started = time.perf_counter()
    if method == "chunked":
        retried = control.retry_all(rt.backend, rt.registry)
    else:
        retried = old_retry_all(rt)
    seconds = time.perf_counter() - started
    status = Path("/proc/self/status").read_text()
    peak = int(status.split("VmHWM:")[1].split()[0]) * 1024  # kB
    lifetime = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    figures = {"retried": retried, "seconds": seconds, "before": before, "peak": peak}
    print(json.dumps({**figures, "lifetime_peak": lifetime}))


def measure(method: str, url: str, jobs: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", method, url],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(done.stdout)
    assert figures["retried"] == jobs, figures
    return {
        f"{method}_before_mb": figures["before"] / MB,
        f"{method}_peak_mb": figures["peak"] / MB,
        f"{method}_lifetime_mb": figures["lifetime_peak"] / MB,
        f"{method}_rate": jobs / figures["seconds"],
    }


def one_run(url: str, args: argparse.Namespace) -> dict[str, float]:
    results: dict[str, float] = {}
    for method in METHODS if args.old else METHODS[:1]:
        results[f"{method}_seed_s"] = seed(url, args.jobs)
        results.update(measure(method, url, args.jobs))
    if args.old:  # per run, then their median: both sides of a ratio share the run's noise
        results["rate_ratio"] = results["chunked_rate"] / results["old_rate"]
        results["peak_ratio"] = results["chunked_peak_mb"] / results["old_peak_mb"]
    return results


# -- report --------------------------------------------------------------------------------
def report(name: str, runs: list[dict[str, float]], args: argparse.Namespace) -> None:
    med = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    peak, rate = med["chunked_peak_mb"], med["chunked_rate"]
    peak_verdict = "ok" if peak < PEAK_MB_TARGET else f"MISSED {PEAK_MB_TARGET:.0f} MB"
    rate_verdict = "ok" if rate > RATE_TARGET else f"MISSED {RATE_TARGET:,.0f} jobs/s"
    print(f"\n{name}: retry_all of {args.jobs:,} failed jobs, median of {len(runs)} runs")
    print(
        f"  chunked (now)   RSS before {med['chunked_before_mb']:6.1f} MB, peak during the call"
        f" {peak:6.1f} MB ({peak - med['chunked_before_mb']:+.1f} MB)  {peak_verdict};"
        f" {rate:>9,.0f} jobs/s  {rate_verdict}"
    )
    if args.old:
        print(
            f"  old (9fc4279)   RSS before {med['old_before_mb']:6.1f} MB, peak during the call"
            f" {med['old_peak_mb']:6.1f} MB ({med['old_peak_mb'] - med['old_before_mb']:+.1f} MB);"
            f" {med['old_rate']:>9,.0f} jobs/s"
        )
        ratios = ", ".join(f"{run['rate_ratio']:.1f}" for run in runs)
        print(
            f"  chunked / old: {med['rate_ratio']:.1f}x the jobs/s (per run {ratios}), "
            f"{med['peak_ratio']:.2f}x the peak RSS"
        )
    print(
        f"  lifetime peak (ru_maxrss, start-up included): chunked {med['chunked_lifetime_mb']:.1f}"
        + (f" MB, old {med['old_lifetime_mb']:.1f} MB" if args.old else " MB")
    )
    print(f"  seeding (not measured): {med['chunked_seed_s']:.0f} s per {args.jobs:,} jobs")


def bench(name: str, url: str, args: argparse.Namespace) -> None:
    runs = []
    for number in range(1, args.runs + 1):
        runs.append(one_run(url, args))
        print(f"{name} run {number}: " + ", ".join(f"{k}={v:,.2f}" for k, v in runs[-1].items()))
    report(name, runs, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=["redis", "sqlite", "both"], default="both")
    parser.add_argument("--no-old", dest="old", action="store_false", help="Skip the old one.")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend in ("redis", "both"):
            server = RedisServer(Path(tmp) / "redis").start()
            try:
                bench("Redis", server.url, args)
            finally:
                server.stop()
        if args.backend in ("sqlite", "both"):
            bench("SQLite", f"sqlite:///{Path(tmp) / 'runtime.db'}", args)


if __name__ == "__main__":
    main()
