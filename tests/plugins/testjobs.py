"""Jobs the integration tests run through real daemons (loaded from [plugins] modules)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import runtime
from runtime import JobContext


@runtime.job(name="testjobs.append")
def append(path: str, text: str) -> str:
    """Append a line to a file: the tests count lines to detect lost or duplicate runs."""
    with Path(path).open("a") as fh:
        fh.write(text + "\n")
    return text


@runtime.job(name="testjobs.crash_once", retries=0)
def crash_once(marker: str, ctx: JobContext) -> int:
    """Kill its own worker process on the first attempt (os._exit), succeed afterwards."""
    if not Path(marker).exists():
        Path(marker).write_text(str(ctx.attempt))
        os._exit(17)
    return ctx.attempt


@runtime.job(name="testjobs.slow_loop", timeout=0.5, retries=0)
def slow_loop() -> None:
    """Busy Python loop that never ends by itself: only the timeout stops it."""
    while True:
        sum(range(1000))


@runtime.job(name="testjobs.mark")
def mark(path: str, n: int, ctx: JobContext, sleep: float = 0.0) -> int:
    """Append "<n> <attempt>" in one O_APPEND write: lines from concurrent runs never
    interleave and a kill -9 leaves only whole lines, so chaos tests can count lost and
    duplicate runs exactly."""
    if sleep:
        time.sleep(sleep)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{n} {ctx.attempt}\n".encode())
    finally:
        os.close(fd)
    return n


@runtime.job(name="testjobs.until_canceled", retries=2)
def until_canceled(marker: str, ctx: JobContext, fail: bool = False) -> str:
    """Write its pid to `marker`, then loop until canceled; then return, or raise with
    `fail` (a canceled job is recorded canceled either way, never retried)."""
    Path(marker).write_text(str(os.getpid()))
    while not ctx.cancelled:
        time.sleep(0.02)
    if fail:
        raise RuntimeError("stopped by cancel")
    return "stopped"


@runtime.job(name="testjobs.ignore_cancel")
def ignore_cancel(marker: str, seconds: float) -> None:
    """Write its pid to `marker`, then sleep `seconds` without looking at ctx.cancelled."""
    Path(marker).write_text(str(os.getpid()))
    time.sleep(seconds)


@runtime.job(name="testjobs.leak")
def leak(dsn: str, fail: bool = True) -> dict[str, str]:
    """Fail quoting `dsn` in its error (or return it): what masking must catch."""
    if fail:
        raise ConnectionError(f"could not connect to {dsn}: connection refused")
    return {"dsn": dsn, "api_key": "sk-live-123", "note": f"reached {dsn}"}


@runtime.hookimpl
def register_jobs(registry: runtime.JobRegistry) -> None:
    for func in (append, crash_once, slow_loop, mark, until_canceled, ignore_cancel, leak):
        registry.add(func)
