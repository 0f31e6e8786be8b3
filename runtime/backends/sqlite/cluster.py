"""Leadership and dead-worker leases on SQLite (base/cluster.py).

The leader is one row of `leases`, taken or extended by a single upsert inside a write
transaction, so two daemons can never both take it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from runtime.backends.base.cluster import EXPIRE_BATCH, Cluster
from runtime.backends.sqlite.connection import Transaction

LEADER = "leader"  # the name of the leader's row in `leases`

CLUSTER_SCHEMA = [
    """create table if not exists leases (
        name text primary key, holder text not null, expires_at real not null)""",
]

# Take the lead when the row is absent, expired, or already the candidate's. When the
# conflict's WHERE is false nothing is written and `changes()` is 0: someone else leads.
SQL_LEAD = """
    insert into leases (name, holder, expires_at) values (?, ?, ?)
    on conflict (name) do update set holder = excluded.holder, expires_at = excluded.expires_at
    where leases.holder = excluded.holder or leases.expires_at <= ?"""
# A batch at a time: expired rows leave `lease_deadline > now`, so each statement finds the
# next ones (the spared rows of live workers are read again, at most one host's threads).
SQL_EXPIRE_DEAD = """
    update jobs set lease_deadline = ?
    where seq in (
        select seq from jobs
        where queue = ? and state = 'active' and lease_deadline > ?
            and worker is not null and started_at < ?
            and worker not in (select value from json_each(?))
        limit ?)
    returning id"""


class SqliteCluster(Cluster):
    """`read` / `write`: the backend's read and write transactions."""

    def __init__(self, read: Transaction[Any], write: Transaction[Any]) -> None:
        self._read = read
        self._write = write

    def lead(self, candidate: str, ttl: float) -> bool:
        def take(cur: sqlite3.Cursor) -> bool:
            now = time.time()
            cur.execute(SQL_LEAD, (LEADER, candidate, now + ttl, now))
            return cur.rowcount == 1

        return bool(self._write(take))

    def resign(self, candidate: str) -> None:
        sql = "delete from leases where name = ? and holder = ?"
        self._write(lambda cur: cur.execute(sql, (LEADER, candidate)))

    def leader(self) -> str | None:
        sql = "select holder from leases where name = ? and expires_at > ?"
        rows = self._read(lambda cur: cur.execute(sql, (LEADER, time.time())).fetchall())
        return rows[0][0] if rows else None

    def worker_jobs(self, queue: str, worker_id: str) -> list[str]:
        # The queue's active rows (index jobs_queue_state): every process on a SQLite file
        # runs on its host, so there are at most that host's worker threads of them (plus
        # leases not reaped yet); no per-worker index to keep on every claim.
        sql = "select id from jobs where queue = ? and state = 'active' and worker = ? order by id"
        rows = self._read(lambda cur: cur.execute(sql, (queue, worker_id)).fetchall())
        return [job_id for (job_id,) in rows]

    def lease_deadlines(self, queue: str, job_ids: list[str]) -> dict[str, float]:
        sql = """select id, lease_deadline from jobs where queue = ? and state = 'active'
            and id in (select value from json_each(?))"""
        params = (queue, json.dumps(job_ids))
        rows = self._read(lambda cur: cur.execute(sql, params).fetchall())
        return {job_id: deadline for job_id, deadline in rows}

    def expire_lease(self, queue: str, job_id: str) -> bool:
        sql = "update jobs set lease_deadline = 0 where id = ? and queue = ? and state = 'active'"
        return bool(self._write(lambda cur: cur.execute(sql, (job_id, queue)).rowcount))

    def expire_leases_of_dead_workers(
        self,
        queue: str,
        live_worker_ids: list[str],
        claimed_before: float,
        batch: int = EXPIRE_BATCH,
    ) -> list[str]:
        live = json.dumps(live_worker_ids)

        def expire(cur: sqlite3.Cursor) -> list[str]:
            now = time.time()
            params = (now, queue, now, claimed_before, live, batch)
            return [job_id for (job_id,) in cur.execute(SQL_EXPIRE_DEAD, params).fetchall()]

        expired: list[str] = []
        # One transaction per batch, so that other processes get the write lock in between.
        while len(ids := self._write(expire)) == batch:
            expired += ids
        return expired + ids
