"""Leadership, dead-worker leases and cancellation on Redis (base.Cluster, base.Cancellation).

The leader is one expiring string (`rt:leader`, SET PX): taking, extending and resigning
are compare-and-set scripts, so two daemons can never both believe they took it. A cancel
request is the job hash's `cancel_requested` field, holding the token of the claim it was
made for.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import redis
from redis.commands.core import Script

from runtime.backends import redis_keys as keys
from runtime.backends.base import Cancellation, Cluster

CANCEL_FIELD = "cancel_requested"


class RedisCluster(Cluster):
    """`load_script(name)`: the source of `redis_{name}.lua` with the shared prelude."""

    def __init__(self, conn: redis.Redis, load_script: Callable[[str], str]) -> None:
        self._conn = conn
        self._lead = conn.register_script(load_script("lead"))
        self._resign = conn.register_script(load_script("resign"))
        self._worker_jobs = conn.register_script(load_script("worker_jobs"))
        self._expire_dead = conn.register_script(load_script("expire_dead"))

    def lead(self, candidate: str, ttl: float) -> bool:
        ttl_ms = max(int(ttl * 1000), 1)
        return bool(self._lead(keys=[keys.LEADER], args=[candidate, ttl_ms]))

    def resign(self, candidate: str) -> None:
        self._resign(keys=[keys.LEADER], args=[candidate])

    def leader(self) -> str | None:
        holder = self._conn.get(keys.LEADER)
        return None if holder is None else _text(holder)

    def worker_jobs(self, queue: str, worker_id: str) -> list[str]:
        return sorted(_text(i) for i in self._worker_jobs(args=[queue, worker_id]))

    def expire_leases_of_dead_workers(
        self, queue: str, live_worker_ids: list[str], claimed_before: float
    ) -> list[str]:
        live = json.dumps(live_worker_ids)
        reply = self._expire_dead(args=[queue, time.time(), claimed_before, live])
        return [_text(i) for i in reply]


class RedisCancellation(Cancellation):
    def __init__(self, conn: redis.Redis, load_script: Callable[[str], str]) -> None:
        self._conn = conn
        self._cancel: Script = conn.register_script(load_script("cancel"))

    def cancel(self, job_id: str) -> str | None:
        state = self._cancel(args=[job_id, time.time(), ""])
        return None if not state else _text(state)

    def requested(self, claims: dict[str, str]) -> set[str]:
        with self._conn.pipeline(transaction=False) as pipe:
            for job_id in claims:
                pipe.hget(keys.job(job_id), CANCEL_FIELD)
            tokens = pipe.execute()
        return {
            job_id
            for (job_id, token), asked in zip(claims.items(), tokens, strict=True)
            if asked is not None and _text(asked) == token
        }

    def finish(self, job_id: str, token: str) -> bool:
        return bool(self._cancel(args=[job_id, time.time(), token]))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
