"""Jobs an operator uses to smoke-test a deployment: does work flow, retry and report?"""

from __future__ import annotations

import time
from typing import Any

import runtime
from runtime import JobContext


class DiagnosticFailure(Exception):
    """Raised on purpose by `diagnostics.fail`."""


@runtime.job(name="diagnostics.echo", queue="default")
def echo(message: Any = "ping") -> dict[str, Any]:
    """Return the message: proves a job goes in and its result comes out."""
    return {"echo": message}


@runtime.job(name="diagnostics.sleep", queue="default", timeout=600)
def sleep(seconds: float, ctx: JobContext) -> dict[str, float]:
    """Hold a worker for `seconds` (stops early when cancelled): tests leases and drains."""
    deadline = time.monotonic() + seconds
    while not ctx.cancelled and time.monotonic() < deadline:
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    return {"slept": round(seconds - max(0.0, deadline - time.monotonic()), 3)}


@runtime.job(
    name="diagnostics.fail", queue="default", retries=3, retry_delay=0.5, retry_backoff=2.0
)
def fail(ctx: JobContext, times: int = 1) -> dict[str, int]:
    """Fail the first `times` attempts, then succeed: tests retries and dead letters."""
    if ctx.attempt <= times:
        raise DiagnosticFailure(f"failing attempt {ctx.attempt} of {times} on purpose")
    return {"attempts": ctx.attempt}


@runtime.job(name="diagnostics.progress", queue="default")
def progress(ctx: JobContext, steps: int = 5, step_seconds: float = 0.2) -> dict[str, int]:
    """Report progress over `steps` steps: tests progress reporting end to end."""
    for step in range(1, steps + 1):
        time.sleep(step_seconds)
        ctx.progress(100 * step / steps, stage=f"step {step}/{steps}")
    return {"steps": steps}


@runtime.hookimpl
def register_jobs(registry: runtime.JobRegistry) -> None:
    for func in (echo, sleep, fail, progress):
        registry.add(func)
