"""The jobs the benchmarks run, loaded as a plugin module (`[plugins] modules`)."""

from __future__ import annotations

import time

import runtime

# Pickup latency: job id -> perf_counter when its function started (same process).
STARTED: dict[int, float] = {}


@runtime.job(name="bench.noop")
def noop() -> None:
    """Does nothing: the benchmark measures the runtime, not the job."""


@runtime.job(name="bench.user")
def user(user: str, n: int) -> None:
    """Does nothing with a searchable payload (bench/dashboard.py seeds these)."""


@runtime.job(name="bench.stamp")
def stamp(seq: int) -> None:
    STARTED[seq] = time.perf_counter()


@runtime.hookimpl
def register_jobs(registry: runtime.JobRegistry) -> None:
    registry.add(noop)
    registry.add(user)
    registry.add(stamp)
