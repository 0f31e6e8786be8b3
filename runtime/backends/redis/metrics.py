"""Metrics on Redis: per-minute buckets in one string per (queue, job, hour), daily totals
in one hash per (queue, job), lifetime totals in one hash per queue (key names in
keys.py). A flush merges everything in one script call: one round trip, atomic, and
buckets from several worker processes for the same minute add up.

Why one string per hour: the hour's 60 minutes are one value, the packed bucket sequence
of base.pack_buckets (about 20 bytes per busy minute with both histograms), so there is no
per-minute field overhead, and no hash that outgrows its compact listpack encoding; the
whole hour expires with its key 24 h after it ends, so nothing has to delete old minutes.
A flush sends each hour it touched in the same format (untouched minutes empty) and
lua/metrics.lua adds it in, bucket by bucket. Daily counts are a hash field per day,
each a one-bucket sequence, pruned past DAYS_KEPT by the same script.
"""

from __future__ import annotations

import time
from typing import Any, cast

import redis

from runtime.backends.base.metrics import (
    DAYS_KEPT,
    MINUTES_KEPT,
    MetricBatch,
    MetricBucket,
    MetricStore,
    daily_counts,
    outcome_counts,
    pack_buckets,
    unpack_buckets,
)
from runtime.backends.redis import keys
from runtime.backends.redis.records import text
from runtime.backends.redis.scripts import lua_source


class RedisMetricStore(MetricStore):
    """The metrics of one RedisBackend, on its client."""

    def __init__(self, conn: redis.Redis) -> None:
        self._conn = conn
        self._merge = conn.register_script(lua_source("metrics"))

    def add(self, queue: str, batch: MetricBatch) -> None:
        if not batch:
            return
        merged_keys: list[str] = []
        args: list[Any] = []
        for key, field, packed, expire_at, prune_below in _entries(queue, batch):
            merged_keys.append(key)
            args += [field, packed, expire_at, prune_below]
        for (job, outcome), count in outcome_counts(batch).items():
            args += [f"{job}|{outcome}", count]
        self._merge(keys=[*merged_keys, keys.metric_totals(queue)], args=[len(merged_keys), *args])

    def minutes(self, queue: str, first: int, last: int, job: str | None = None) -> MetricBatch:
        jobs = [job] if job is not None else self._jobs(queue)
        hours = [(name, hour) for name in jobs for hour in range(first // 60, last // 60 + 1)]
        if not hours:
            return {}
        replies = self._conn.mget([keys.metric_minutes(queue, *key) for key in hours])
        batch: MetricBatch = {}
        for (name, hour), packed in zip(hours, replies, strict=True):
            for offset, bucket in enumerate(_buckets(packed)):
                minute = hour * 60 + offset
                if first <= minute <= last and not bucket.empty():
                    batch[(name, minute)] = bucket
        return batch

    def days(self, queue: str, first: int, job: str | None = None) -> MetricBatch:
        jobs = [job] if job is not None else self._jobs(queue)
        with self._conn.pipeline(transaction=False) as pipe:
            for name in jobs:
                pipe.hgetall(keys.metric_days(queue, name))
            replies = pipe.execute()
        return {
            (name, int(day)): _buckets(packed)[0]
            for name, reply in zip(jobs, replies, strict=True)
            for day, packed in reply.items()
            if int(day) >= first
        }

    def totals(self, queues: list[str]) -> dict[tuple[str, str, str], int]:
        with self._conn.pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.hgetall(keys.metric_totals(queue))
            replies = pipe.execute()
        totals: dict[tuple[str, str, str], int] = {}
        for queue, reply in zip(queues, replies, strict=True):
            for field, count in reply.items():
                job, _, outcome = text(field).rpartition("|")
                totals[(queue, job, outcome)] = int(count)
        return totals

    def prune(self, queue: str, now: float) -> int:
        return 0  # every key expires by itself

    def forget(self, queue: str) -> None:
        # The daily hashes and the totals; the hourly minute strings expire within 24 h.
        days = [keys.metric_days(queue, job) for job in self._jobs(queue)]
        self._conn.delete(*days, keys.metric_totals(queue))

    def _jobs(self, queue: str) -> list[str]:
        """Job names with metrics on `queue`: the lifetime totals name every one."""
        fields = self._conn.hkeys(keys.metric_totals(queue))
        return sorted({text(field).rpartition("|")[0] for field in fields})


def _entries(queue: str, batch: MetricBatch) -> list[tuple[str, str, bytes, int, Any]]:
    """(key, field or "" for a string, packed delta, expire-at, prune-below) for every
    hour and day touched."""
    hours: dict[tuple[str, int], dict[int, MetricBucket]] = {}
    for (job, minute), bucket in batch.items():
        hours.setdefault((job, minute // 60), {})[minute % 60] = bucket
    entries: list[tuple[str, str, bytes, int, Any]] = []
    for (job, hour), minutes in sorted(hours.items()):
        packed = pack_buckets([minutes.get(m, MetricBucket()) for m in range(max(minutes) + 1)])
        expire_at = (hour + 1) * 3600 + MINUTES_KEPT * 60
        entries.append((keys.metric_minutes(queue, job, hour), "", packed, expire_at, ""))
    oldest = int(time.time() // 86400) - DAYS_KEPT  # older days are not kept, nor written
    for (job, day), counts in daily_counts(batch).items():
        if day >= oldest:
            expire_at = (day + DAYS_KEPT + 1) * 86400
            packed = pack_buckets([counts])
            entries.append((keys.metric_days(queue, job), str(day), packed, expire_at, oldest))
    return entries


def _buckets(packed: bytes | str | None) -> list[MetricBucket]:
    """A stored value's buckets (none when the key is missing); the connection returns
    bytes, as it is not opened with decode_responses."""
    return unpack_buckets(cast(bytes, packed or b""))
