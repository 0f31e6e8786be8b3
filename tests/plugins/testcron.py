"""Cron jobs the dashboard's cron tests show and run now (loaded from [plugins] modules
next to testjobs.py; kept apart so no daemon test fires them)."""

from __future__ import annotations

import runtime


@runtime.job(name="testcron.hourly", cron="0 * * * *")
def hourly() -> str:
    return "hourly"


@runtime.job(name="testcron.report", cron="0 6 * * *", queue="reports")
def report() -> str:
    return "report"


@runtime.job(name="testcron.never", cron="0 0 30 2 *")
def never() -> str:
    """February 30th: valid cron fields, never a date."""
    return "never"


@runtime.hookimpl
def register_jobs(registry: runtime.JobRegistry) -> None:
    for func in (hourly, report, never):
        registry.add(func)
