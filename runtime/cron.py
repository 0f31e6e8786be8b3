"""Cron: which cron jobs fire this minute (once, however many daemons share the backend),
which daemon fired each last, when each runs next, and what was missed while none ran.

Every daemon's Huey scheduler asks once a minute; each (job, minute) is claimed with an
atomic put-if-empty, so exactly one daemon enqueues it. Ticks missed during downtime are
skipped, not caught up (a report for 09:00 is not wanted at 14:00): they are logged.
Times are UTC, like Huey's scheduler.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.jobs import JobSpec

log = logging.getLogger("runtime.cron")

LAST_PREFIX = "cron:last:"
CLAIM_TTL = 120  # seconds a minute's claim is kept: past the minute, with a margin
MAX_LOOKBACK = datetime.timedelta(days=7)  # missed ticks are counted this far back at most
TICK_FORMAT = "%Y-%m-%dT%H:%M"
# How far `next_run` looks ahead. Every date that exists recurs within 8 years (Feb 29
# skips 1900, 2100...); a shorter bound would call a leap-day schedule "never" for
# three years out of four. Whole days are skipped at once, so the bound costs little.
NEXT_RUN_HORIZON = datetime.timedelta(days=8 * 366)
MINUTE = datetime.timedelta(minutes=1)


class CronTicker:
    """The cron jobs of one queue, checked by one daemon's scheduler."""

    def __init__(self, storage: Any, specs: list[JobSpec]) -> None:
        self.storage = storage  # a backend: Huey's put_if_empty / put_data / peek_data
        self.specs = specs
        self.by = f"{socket.gethostname()}:{os.getpid()}"
        self._missed_checked = False

    def due(self, now: datetime.datetime) -> list[JobSpec]:
        """The jobs this daemon must enqueue for the minute of `now` (naive UTC)."""
        if not self._missed_checked:
            self._missed_checked = True
            self._log_missed(now)
        tick = now.strftime(TICK_FORMAT)
        due = []
        for spec in self.specs:
            matches = spec.cron_matches()
            if matches and matches(now) and self._claim(spec, tick):
                due.append(spec)
        return due

    def _claim(self, spec: JobSpec, tick: str) -> bool:
        if not self.storage.put_if_empty(f"cron:{spec.name}:{tick}", b"1", CLAIM_TTL):
            return False
        record = {"job": spec.name, "tick": tick, "by": self.by}
        self.storage.put_data(LAST_PREFIX + spec.name, json.dumps(record).encode())
        return True

    def _log_missed(self, now: datetime.datetime) -> None:
        for spec in self.specs:
            last = last_tick(self.storage, spec.name)
            matches = spec.cron_matches()
            if last is None or matches is None:
                continue
            missed = count_matches(matches, last, now)
            if missed:
                log.warning(
                    "cron job %s missed %d ticks since its last run at %s UTC (no daemon "
                    "was running); they are skipped, not caught up",
                    spec.name,
                    missed,
                    last.strftime(TICK_FORMAT),
                    extra={"job": spec.name, "missed": missed},
                )


def last_tick(storage: Any, job: str) -> datetime.datetime | None:
    raw = storage.peek_data(LAST_PREFIX + job)
    if not isinstance(raw, bytes | str):  # Huey's EmptyData marker: never fired
        return None
    return datetime.datetime.strptime(json.loads(raw)["tick"], TICK_FORMAT)


def count_matches(matches: Any, after: datetime.datetime, before: datetime.datetime) -> int:
    """Minutes strictly between `after` and `before` (bounded look-back) that match."""
    minute = max(after, before - MAX_LOOKBACK).replace(second=0, microsecond=0)
    end = before.replace(second=0, microsecond=0)
    count = 0
    minute += datetime.timedelta(minutes=1)
    while minute < end:
        count += bool(matches(minute))
        minute += datetime.timedelta(minutes=1)
    return count


def next_run(spec: JobSpec, after: datetime.datetime) -> datetime.datetime | None:
    """The first minute strictly after `after` (naive UTC) that the job's cron matches, as
    the ticker decides it (Huey's crontab: day of month AND day of week must match); None
    for no cron, or no match within NEXT_RUN_HORIZON.

    Huey's crontab only says yes or no to one minute, so this steps minutes, but asks
    the schedule's date fields alone first, then with the hour, and skips a whole day or
    hour those rule out: a daily job costs about 24 checks, not 1,440."""
    matches = spec.cron_matches()
    if matches is None or spec.cron is None:
        return None
    on_day, in_hour = _coarse_matchers(spec.cron)
    minute = after.replace(second=0, microsecond=0) + MINUTE
    end = minute + NEXT_RUN_HORIZON
    while minute < end:
        if not on_day(minute):
            minute = minute.replace(hour=0, minute=0) + datetime.timedelta(days=1)
        elif not in_hour(minute):
            minute = minute.replace(minute=0) + datetime.timedelta(hours=1)
        elif matches(minute):
            return minute
        else:
            minute += MINUTE
    return None


def _coarse_matchers(schedule: str) -> tuple[Any, Any]:
    """The schedule with every minute and hour allowed, and with every minute allowed: a
    day (or hour) they reject has no matching minute at all."""
    from huey import crontab  # imported for cron jobs only, as in JobSpec.cron_matches

    _, hour, day, month, weekday = schedule.split()
    return crontab("*", "*", day, month, weekday), crontab("*", hour, day, month, weekday)


def last_runs(results: Mapping[Any, bytes]) -> list[dict[str, Any]]:
    """Each cron job's last fired tick and the daemon that fired it (`runtime status`),
    from Huey's result store (`storage.result_items()`, or `Overview.results`)."""
    runs = []
    for key, value in results.items():
        name = key.decode() if isinstance(key, bytes) else str(key)
        if name.startswith(LAST_PREFIX):
            runs.append(json.loads(value))
    return sorted(runs, key=lambda run: run["job"])
