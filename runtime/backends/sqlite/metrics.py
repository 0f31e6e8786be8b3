"""Metrics on SQLite: a row per (queue, minute, job) holding the packed MetricBucket, a
row per (queue, day, job) with the day's counts, and lifetime totals per (queue, job,
outcome). A flush is one write transaction: histograms are merged in Python inside it
(read, add, upsert), so concurrent flushes of several worker processes add up. Rows past
the retention are deleted by `prune`, which the worker's housekeeping calls every minute
(runtime.control.apply_retention).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from runtime.backends.base.metrics import (
    DAYS_KEPT,
    MINUTES_KEPT,
    MetricBatch,
    MetricBucket,
    MetricStore,
    daily_counts,
    outcome_counts,
)
from runtime.backends.sqlite.connection import Transaction

# The primary keys lead with (queue, time): reads and prunes are range scans of one queue.
METRICS_SCHEMA = [
    """create table if not exists metric_minutes (
        queue text not null, minute integer not null, job text not null,
        bucket text not null, primary key (queue, minute, job)) without rowid""",
    """create table if not exists metric_days (
        queue text not null, day integer not null, job text not null,
        bucket text not null, primary key (queue, day, job)) without rowid""",
    """create table if not exists metric_totals (
        queue text not null, job text not null, outcome text not null,
        n integer not null, primary key (queue, job, outcome)) without rowid""",
]
# Per-minute and daily rows share their layout; `{table}` and `{unit}` name which.
SQL_GET = "select bucket from {table} where queue = ? and {unit} = ? and job = ?"
SQL_PUT = """insert into {table} (queue, {unit}, job, bucket) values (?, ?, ?, ?)
    on conflict do update set bucket = excluded.bucket"""
SQL_RANGE = "select job, {unit}, bucket from {table} where queue = ? and {unit} between ? and ?"
SQL_TOTAL = """insert into metric_totals (queue, job, outcome, n) values (?, ?, ?, ?)
    on conflict do update set n = n + excluded.n"""
SQL_PRUNE = "delete from {table} where queue = ? and {unit} < ?"
TABLES = (("metric_minutes", "minute"), ("metric_days", "day"))


class SqliteMetricStore(MetricStore):
    """The metrics of one SqliteBackend, through its read and write transactions."""

    def __init__(self, read: Transaction, write: Transaction) -> None:
        self._read = read
        self._write = write

    def add(self, queue: str, batch: MetricBatch) -> None:
        if batch:
            self._write(lambda cur: self._add(cur, queue, batch))

    def _add(self, cur: sqlite3.Cursor, queue: str, batch: MetricBatch) -> None:
        for (table, unit), buckets in zip(TABLES, (batch, daily_counts(batch)), strict=True):
            for (job, when), bucket in buckets.items():
                row = cur.execute(SQL_GET.format(table=table, unit=unit), (queue, when, job))
                old = row.fetchone()
                if old is not None:
                    bucket = MetricBucket.decode(old[0]).merge(bucket)
                put = SQL_PUT.format(table=table, unit=unit)
                cur.execute(put, (queue, when, job, bucket.encode()))
        totals = outcome_counts(batch)
        cur.executemany(SQL_TOTAL, [(queue, job, out, n) for (job, out), n in totals.items()])

    def minutes(self, queue: str, first: int, last: int, job: str | None = None) -> MetricBatch:
        return self._range("metric_minutes", "minute", queue, first, last, job)

    def days(self, queue: str, first: int, job: str | None = None) -> MetricBatch:
        return self._range("metric_days", "day", queue, first, 2**62, job)

    def _range(
        self, table: str, unit: str, queue: str, first: int, last: int, job: str | None
    ) -> MetricBatch:
        sql = SQL_RANGE.format(table=table, unit=unit)
        params: tuple[Any, ...] = (queue, first, last)
        if job is not None:
            sql, params = sql + " and job = ?", (*params, job)
        rows = self._read(lambda cur: cur.execute(sql, params).fetchall())
        return {(name, when): MetricBucket.decode(text) for name, when, text in rows}

    def totals(self, queues: list[str]) -> dict[tuple[str, str, str], int]:
        marks = ",".join("?" * len(queues))
        sql = f"select queue, job, outcome, n from metric_totals where queue in ({marks})"
        rows = self._read(lambda cur: cur.execute(sql, queues).fetchall())
        return {(queue, job, outcome): n for queue, job, outcome, n in rows}

    def prune(self, queue: str, now: float) -> int:
        minute = int(now // 60)
        bounds = (minute - MINUTES_KEPT, minute // 1440 - DAYS_KEPT)

        def delete(cur: sqlite3.Cursor) -> int:
            return sum(
                cur.execute(SQL_PRUNE.format(table=table, unit=unit), (queue, bound)).rowcount
                for (table, unit), bound in zip(TABLES, bounds, strict=True)
            )

        return self._write(delete)

    def forget(self, queue: str) -> None:
        def delete(cur: sqlite3.Cursor) -> None:
            for table in ("metric_minutes", "metric_days", "metric_totals"):
                cur.execute(f"delete from {table} where queue = ?", (queue,))

        self._write(delete)
