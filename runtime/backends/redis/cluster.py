"""Leadership and dead-worker leases on Redis (base/cluster.py).

The leader is one expiring string (`rt:leader`, SET PX): taking, extending and resigning
are compare-and-set scripts (lua/lead.lua, lua/resign.lua), so two daemons can never both
believe they took it.
"""

from __future__ import annotations

import json

import redis

from runtime.backends.base.cluster import EXPIRE_BATCH, Cluster
from runtime.backends.redis import keys
from runtime.backends.redis.records import text
from runtime.backends.redis.scripts import load_script


class RedisCluster(Cluster):
    def __init__(self, conn: redis.Redis) -> None:
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
        return None if holder is None else text(holder)

    def worker_jobs(self, queue: str, worker_id: str) -> list[str]:
        return sorted(text(i) for i in self._worker_jobs(args=[queue, worker_id]))

    def lease_deadlines(self, queue: str, job_ids: list[str]) -> dict[str, float]:
        if not job_ids:
            return {}
        scores = self._conn.zmscore(keys.active(queue), job_ids)
        return {i: float(s) for i, s in zip(job_ids, scores, strict=True) if s is not None}

    def expire_lease(self, queue: str, job_id: str) -> bool:
        # XX CH: only a member (an active job) changes; 1 when its score did.
        changed = self._conn.zadd(keys.active(queue), {job_id: 0}, xx=True, ch=True)
        return bool(changed) or self._conn.zscore(keys.active(queue), job_id) == 0

    def expire_leases_of_dead_workers(
        self,
        queue: str,
        live_worker_ids: list[str],
        claimed_before: float,
        batch: int = EXPIRE_BATCH,
    ) -> list[str]:
        live = json.dumps(live_worker_ids)
        expired: list[str] = []
        offset = 0  # the unexpired leases spared so far: they stay ahead of the rest
        while True:
            examined, ids = self._expire_dead(args=[queue, claimed_before, live, offset, batch])
            expired += [text(i) for i in ids]
            if int(examined) < batch:
                return expired
            offset += int(examined) - len(ids)
