"""SqliteBackend: job storage and leases on SQLite (base/storage.py's Backend), the
embedded default.

A job is one row of `jobs` (schema.py), record and message together, so every state
change is one statement in one transaction (connection.py); a claim is SQL_CLAIM, an
UPDATE that takes the next waiting row by priority and push order and leases it.
Lifecycle events are written by triggers on `jobs` (events.py).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from runtime.backends.base.storage import (
    COUNTED_STATES,
    FINAL_STATES,
    Backend,
    Claim,
    EnqueueResult,
    NewJob,
    Overview,
    Reaped,
    final_state,
    stalled_error,
)
from runtime.backends.sqlite import records, schema
from runtime.backends.sqlite.alerts import ALERT_SCHEMA, SqliteAlertStore
from runtime.backends.sqlite.cancellation import SqliteCancellation
from runtime.backends.sqlite.cluster import CLUSTER_SCHEMA, SqliteCluster
from runtime.backends.sqlite.events import EVENTS_SCHEMA, SqliteEventLog
from runtime.backends.sqlite.kv import SqliteKeyValue
from runtime.backends.sqlite.metrics import METRICS_SCHEMA, SqliteMetricStore
from runtime.messages import describe_message

BATCH = 1000  # rows one promote, reap, purge or purge_queue transaction changes at most
T = TypeVar("T")
RETRYABLE = ("failed", "canceled")  # the states requeue takes
POLL_FIRST, POLL_MAX = 0.005, 0.1  # claim's polling interval: short at first, then backs off


class SqliteBackend(SqliteKeyValue, Backend):
    """Lease-based jobs on a SQLite file; Huey's kv/lock operations (kv.py) beside them."""

    ddl = [*SqliteKeyValue.ddl, *schema.SCHEMA, *EVENTS_SCHEMA, *ALERT_SCHEMA, *CLUSTER_SCHEMA]
    ddl += METRICS_SCHEMA

    def __init__(self, path: Path, io_timeout: float | None = None) -> None:
        self._host = socket.gethostname()
        self.events = SqliteEventLog(self._read, self._write)
        self.alerts = SqliteAlertStore(self._read, self._write)
        self.metrics = SqliteMetricStore(self._read, self._write)
        self.cluster = SqliteCluster(self._read, self._write)
        self.cancels = SqliteCancellation(self._read, self._write)
        super().__init__(path, io_timeout)

    def migrate(self, cur: sqlite3.Cursor) -> None:
        have = {row[1] for row in cur.execute("pragma table_info(jobs)")}
        for column, definition in schema.ADDED_COLUMNS.items():
            if column not in have:
                cur.execute(f"alter table jobs add column {definition}")
        cur.execute(schema.SQL_SEED_COUNTS)

    def _fenced(self, sql: str, params: tuple[Any, ...]) -> bool:
        """One UPDATE guarded by schema.FENCE; True when it hit the live claim."""
        return self._write(lambda cur: cur.execute(sql, params).rowcount == 1)

    # -- Backend -------------------------------------------------------------------------
    def ping(self) -> None:
        # An open connection keeps working on a deleted file; writes would then vanish.
        if not self.path.is_file():
            raise self._unavailable("the file does not exist any more")
        self._read(lambda cur: cur.execute("select count(*) from sqlite_master").fetchall())

    def now(self) -> float:
        # The file lives on one host, and every process using it runs there (SQLite over a
        # network share is not supported): that host's clock is the only clock. Each
        # transaction reads it once, inside the write lock, so its times agree.
        return time.time()

    def push(self, job: NewJob) -> EnqueueResult:
        return self.push_many([job])[0]

    def push_many(self, jobs: list[NewJob]) -> list[EnqueueResult]:
        if not jobs:
            return []
        return self._write(lambda cur: self._insert_jobs(cur, jobs))

    def _insert_jobs(self, cur: sqlite3.Cursor, jobs: list[NewJob]) -> list[EnqueueResult]:
        now = time.time()  # inside the write lock: push order and enqueued_at agree
        results: list[EnqueueResult] = []
        rows: list[tuple[Any, ...]] = []
        by_key: dict[str, EnqueueResult] = {}  # keys taken earlier in this batch
        for job in jobs:
            holder = self._holder(cur, job, now, by_key)
            if holder is not None:
                results.append(EnqueueResult(holder.id, holder.state, True))
                continue
            state = "delayed" if job.eta is not None and job.eta > now else "waiting"
            rows.append(records.insert_row(job, state, now))
            results.append(EnqueueResult(job.id, state, False))
            if job.key is not None:
                by_key[job.key] = results[-1]
        cur.executemany(schema.SQL_INSERT, rows)
        cur.executemany(schema.SQL_REGISTER_QUEUE, [(q,) for q in sorted({j.queue for j in jobs})])
        return results

    @staticmethod
    def _holder(
        cur: sqlite3.Cursor, job: NewJob, now: float, by_key: dict[str, EnqueueResult]
    ) -> EnqueueResult | None:
        """The job holding `job.key`: one taken earlier in this batch (its rows are inserted
        after the loop, so the table does not show them yet), else as `_key_holder` finds."""
        if job.key is None:
            return None
        return by_key.get(job.key) or _key_holder(cur, job.key, job.key_window, now)

    def claim(self, queue: str, lease_seconds: float, timeout: float) -> Claim | None:
        deadline = time.monotonic() + timeout
        pause = POLL_FIRST
        while True:
            claimed = self._claim_once(queue, lease_seconds)
            remaining = deadline - time.monotonic()
            if claimed is not None or remaining <= 0:
                return claimed
            # SQLite has no blocking pop: poll, quickly at first so a fresh push is
            # picked up within milliseconds, then backing off to spare idle CPUs.
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, POLL_MAX)

    def _claim_once(self, queue: str, lease_seconds: float) -> Claim | None:
        # A read first, like Huey's dequeue: idle workers must not queue up on the write lock.
        if not self._read(lambda cur: cur.execute(schema.SQL_HAS_WAITING, (queue,)).fetchall()):
            return None
        return self._write(lambda cur: self._take_next(cur, queue, lease_seconds))

    def _take_next(self, cur: sqlite3.Cursor, queue: str, lease_seconds: float) -> Claim | None:
        token = uuid.uuid4().hex
        now = time.time()
        deadline = now + lease_seconds
        # Outside a worker process, `worker` names the claiming process; the pid is read
        # here because a forked child must not report its parent's.
        worker = self.worker_id or f"{self._host}:{os.getpid()}"
        params = (token, now, deadline, worker, queue)
        row = cur.execute(schema.SQL_CLAIM, params).fetchone()
        if row is None:  # another worker took the last one since the read
            return None
        waited = None if row[3] is None else max(now - row[3], 0.0)
        return Claim(row[0], token, bytes(row[1]), row[2], deadline, waited)

    def renew_many(self, claims: dict[str, str], lease_seconds: float) -> set[str]:
        sql = f"update jobs set lease_deadline = ? {schema.FENCE}"

        def renew(cur: sqlite3.Cursor) -> set[str]:
            deadline = time.time() + lease_seconds
            return {
                job_id
                for job_id, token in claims.items()
                if cur.execute(sql, (deadline, job_id, token)).rowcount == 1
            }

        return self._write(renew) if claims else set()

    def complete(self, job_id: str, token: str, result: str | None) -> bool:
        return self._write(lambda cur: self._finish(cur, job_id, token, result))

    def complete_and_claim(
        self, job_id: str, token: str, result: str | None, queue: str, lease_seconds: float
    ) -> tuple[bool, Claim | None]:
        def both(cur: sqlite3.Cursor) -> tuple[bool, Claim | None]:
            done = self._finish(cur, job_id, token, result)
            return done, self._take_next(cur, queue, lease_seconds)

        return self._write(both)

    def _finish(self, cur: sqlite3.Cursor, job_id: str, token: str, result: str | None) -> bool:
        sql = f"""update jobs set state = 'completed', result = ?, finished_at = ?,
                  token = null, lease_deadline = null {schema.FENCE} returning queue"""
        row = cur.execute(sql, (result, time.time(), job_id, token)).fetchone()
        if row is None:
            return False
        cur.execute(
            "insert into queues (name, completed) values (?, 1) "
            "on conflict (name) do update set completed = completed + 1",
            (row[0],),
        )
        return True

    def retry(
        self, job_id: str, token: str, data: bytes, eta: float, error: dict[str, Any]
    ) -> bool:
        sql = f"""update jobs set state = 'retrying', data = ?, eta = ?, error = ?,
                  token = null, lease_deadline = null {schema.FENCE}"""
        return self._fenced(sql, (data, eta, records.dumps(error), job_id, token))

    def fail(self, job_id: str, token: str, error: dict[str, Any]) -> bool:
        sql = f"""update jobs set state = 'failed', error = ?, finished_at = ?,
                  token = null, lease_deadline = null {schema.FENCE}"""
        return self._fenced(sql, (records.dumps(error), time.time(), job_id, token))

    def release(self, job_id: str, token: str) -> bool:
        # The row keeps its priority and seq, so it goes back ahead of later pushes.
        sql = (
            f"update jobs set state = 'waiting', token = null, lease_deadline = null {schema.FENCE}"
        )
        return self._fenced(sql, (job_id, token))

    def bury(self, queue: str, data: bytes, reason: str) -> str:
        job_id = uuid.uuid4().hex
        name, _ = describe_message(data)
        error = {"type": "PoisonMessage", "message": reason, "traceback": None}

        def insert(cur: sqlite3.Cursor) -> str:
            now = time.time()
            row = (
                job_id,
                name,
                queue,
                "failed",
                0,
                data,
                "",  # the payload column: the payload is read from `data`
                None,
                now,
                None,
                now,
                records.dumps(error),
            )
            cur.execute(schema.SQL_INSERT, row)
            cur.execute(schema.SQL_REGISTER_QUEUE, (queue,))
            return job_id

        return self._write(insert)

    def progress(self, job_id: str, token: str, percent: float, stage: str | None) -> bool:
        value = records.dumps({"percent": float(percent), "stage": stage})
        return self._fenced(f"update jobs set progress = ? {schema.FENCE}", (value, job_id, token))

    def promote_due(self, queue: str, now: float | None = None) -> int:
        def promote(cur: sqlite3.Cursor) -> tuple[int, int]:
            as_of = self.now() if now is None else now
            moved = int(cur.execute(schema.SQL_PROMOTE, (queue, as_of, BATCH)).rowcount)
            return moved, moved

        return sum(self._batches(promote))

    def reap_expired(self, queue: str, now: float | None = None, max_stalls: int = 3) -> Reaped:
        def reap(cur: sqlite3.Cursor) -> tuple[int, Reaped]:
            return _reap(cur, queue, self.now() if now is None else now, max_stalls)

        batches = list(self._batches(reap))
        return Reaped(
            recovered=[job_id for batch in batches for job_id in batch.recovered],
            stalled=[job_id for batch in batches for job_id in batch.stalled],
        )

    def _batches(self, step: Callable[[sqlite3.Cursor], tuple[int, T]]) -> Iterator[T]:
        """The results of `step`, one write transaction each, until one examined less than
        BATCH rows (`step` returns how many it examined, and its result): other processes
        get the write lock between batches, as Redis runs one script per batch."""
        while True:
            examined, result = self._write(step)
            yield result
            if examined < BATCH:
                return

    # -- dead letters and retention ----------------------------------------------------
    def requeue(self, job_id: str, data: bytes | None = None) -> bool:
        return self._write(lambda cur: _requeue(cur, {job_id: (data, None)})) == 1

    def requeue_many(self, heads: dict[str, bytes | None]) -> int:
        messages = {job_id: (None, head) for job_id, head in heads.items()}
        return self._write(lambda cur: _requeue(cur, messages)) if heads else 0

    def purge(
        self,
        queue: str,
        state: str,
        finished_before: float | None = None,
        keep: int | None = None,
        limit: int = 10_000,
    ) -> int:
        final_state(state)
        if limit <= 0:
            return 0

        def delete(cur: sqlite3.Cursor, want: int) -> int:
            bound = _purge_bound(cur, queue, state, finished_before, keep)
            if bound is None:
                return 0
            finished_at, seq = bound
            params = (queue, state, finished_at, finished_at, seq, want)
            return int(cur.execute(schema.SQL_PURGE, params).rowcount)

        # Deleting the rows is all: a key is held by its row, the completed total lives
        # in `queues`, and the failed count is counted from rows. At most BATCH rows per
        # transaction, so that other processes get the write lock in between.
        purged = 0
        while purged < limit:
            want = min(BATCH, limit - purged)
            deleted = self._write(lambda cur: delete(cur, want))  # noqa: B023 (run at once)
            purged += deleted
            if deleted < want:
                break
        return purged

    def delete_many(self, job_ids: list[str], state: str | None = None) -> int:
        only = " and state = ?" if state is not None else ""

        def delete(cur: sqlite3.Cursor) -> int:
            deleted = 0
            for start in range(0, len(job_ids), BATCH):  # far below SQLite's 32,766 parameters
                batch = job_ids[start : start + BATCH]
                marks = ", ".join("?" * len(batch))
                sql = f"delete from jobs where id in ({marks}) and state != 'active'{only}"
                deleted += cur.execute(sql, [*batch, *([state] if state else [])]).rowcount
            return deleted

        return self._write(delete) if job_ids else 0

    def purge_queue(self, queue: str) -> int:
        sql = """delete from jobs where seq in (
            select seq from jobs where queue = ? and state != 'active' limit ?)"""
        deleted = 0
        # In batches, so that other processes get the write lock in between.
        while removed := self._write(lambda cur: cur.execute(sql, (queue, BATCH)).rowcount):
            deleted += removed
        return deleted

    # -- reading -------------------------------------------------------------------------
    def get_job(self, job_id: str) -> dict[str, Any] | None:
        sql = f"select {schema.RECORD_COLUMNS} from jobs where id = ?"
        rows = self._read(lambda cur: cur.execute(sql, (job_id,)).fetchall())
        return records.record(rows[0]) if rows else None

    def ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        # GLOB (case-sensitive) with a literal prefix is a range read of the id index.
        sql = "select id from jobs where id glob ? order by id limit ?"
        rows = self._read(lambda cur: cur.execute(sql, (prefix + "*", limit)).fetchall())
        return [row[0] for row in rows]

    def _push_order_slice(
        self, queue: str | None, below: int | None, count: int
    ) -> list[tuple[int, str]]:
        where = ["seq < ?"] if below is not None else []
        params: list[Any] = [below] if below is not None else []
        if queue is not None:
            where.append("queue = ?")
            params.append(queue)
        sql = "select seq, id from jobs"
        if where:
            sql += " where " + " and ".join(where)
        sql += " order by seq desc limit ?"
        return self._read(lambda cur: cur.execute(sql, (*params, count)).fetchall())

    def _state_slice(self, queue: str, state: str, offset: int, count: int) -> list[str]:
        sql = schema.SQL_STATE_SLICES[state]
        params = (queue, state, count, offset) if state in FINAL_STATES else (queue, count, offset)
        return [row[0] for row in self._read(lambda cur: cur.execute(sql, params).fetchall())]

    def finished_slice(
        self, queue: str, state: str, until: float, offset: int, count: int
    ) -> list[tuple[str, str, int]]:
        params = (queue, final_state(state), until, count, offset)
        return self._read(lambda cur: cur.execute(schema.SQL_FINISHED_SLICE, params).fetchall())

    def _records(self, job_ids: list[str]) -> list[dict[str, Any] | None]:
        found = self._by_id(f"select {schema.RECORD_COLUMNS} from jobs", job_ids)
        return [records.record(found[job_id]) if job_id in found else None for job_id in job_ids]

    def _having_job(self, job_ids: list[str], job: str) -> set[str]:
        found = self._by_id("select id, job from jobs", job_ids)
        return {job_id for job_id, row in found.items() if row[1] == job}

    def _by_id(self, select: str, job_ids: list[str]) -> dict[str, Any]:
        """Rows of `select` (whose first column is the id) for `job_ids`, by id."""

        def read(cur: sqlite3.Cursor) -> dict[str, Any]:
            rows: dict[str, Any] = {}
            # SQLite allows 32,766 parameters per statement: stay far below, in batches.
            for start in range(0, len(job_ids), BATCH):
                batch = job_ids[start : start + BATCH]
                sql = f"{select} where id in ({', '.join('?' * len(batch))})"
                rows.update((row[0], row) for row in cur.execute(sql, batch))
            return rows

        return self._read(read)

    def queue_counts(self, queues: list[str]) -> dict[str, dict[str, int]]:
        counts = {queue: dict.fromkeys(COUNTED_STATES, 0) for queue in queues}
        if not queues:
            return counts
        marks = ", ".join("?" * len(queues))
        by_state = schema.SQL_COUNTS.format(marks)
        completed = f"select name, completed from queues where name in ({marks})"

        def read(cur: sqlite3.Cursor) -> tuple[list[Any], list[Any]]:
            return cur.execute(by_state, queues).fetchall(), cur.execute(
                completed, queues
            ).fetchall()

        state_rows, completed_rows = self._read(read)
        for queue, state, count in state_rows:
            counted = "delayed" if state == "retrying" else state
            counts[queue][counted] += count
        for queue, total in completed_rows:
            counts[queue]["completed"] = total
        return counts

    def overview(self, queues: list[str]) -> Overview:
        names = sorted(set(self.known_queues()) | set(queues))
        return Overview(
            counts=self.queue_counts(names),
            paused=self.paused_queues(),
            workers=self.workers(),
            results=self.result_items(),
            leader=self.cluster.leader(),
            alerts=self.alerts.open_alerts(),
            alerts_evaluated=self.alerts.last_evaluated(),
            now=self.now(),
        )

    def known_queues(self) -> list[str]:
        rows = self._read(
            lambda cur: cur.execute("select name from queues order by name").fetchall()
        )
        return [name for (name,) in rows]

    def forget_queue(self, queue: str) -> int:
        def forget(cur: sqlite3.Cursor) -> int:
            if cur.execute(schema.SQL_QUEUE_HAS_JOBS, (queue,)).fetchone():
                held = cur.execute(schema.SQL_QUEUE_JOBS, (queue,)).fetchone()[0]
                return max(int(held), 1)  # the counts are the triggers'; the row is the truth
            for sql in schema.SQL_FORGET_QUEUE:
                cur.execute(sql, (queue,))
            return 0

        held = self._write(forget)
        if not held:
            self.metrics.forget(queue)
        return held

    def oldest_waiting(self, queues: list[str]) -> dict[str, float | None]:
        def read(cur: sqlite3.Cursor) -> dict[str, float | None]:
            heads = {
                name: cur.execute(schema.SQL_WAITING_HEAD, (name,)).fetchone() for name in queues
            }
            return {name: max(row[0], row[1] or 0) if row else None for name, row in heads.items()}

        return self._read(read)

    def dead_letters_since(self, queues: list[str], since: float) -> dict[str, int]:
        def read(cur: sqlite3.Cursor) -> dict[str, int]:
            return {
                name: cur.execute(schema.SQL_DEAD_SINCE, (name, since)).fetchone()[0]
                for name in queues
            }

        return self._read(read)

    # -- administration ------------------------------------------------------------------
    def set_paused(self, queue: str, paused: bool) -> None:
        if paused:
            sql = "insert or ignore into paused_queues (name) values (?)"
        else:
            sql = "delete from paused_queues where name = ?"
        self._write(lambda cur: cur.execute(sql, (queue,)))

    def paused_queues(self) -> set[str]:
        rows = self._read(lambda cur: cur.execute("select name from paused_queues").fetchall())
        return {name for (name,) in rows}

    def put_worker(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        def publish(cur: sqlite3.Cursor) -> None:
            now = time.time()
            # Dead workers never remove themselves: drop them here, the table stays tiny.
            cur.execute("delete from workers where expires_at <= ?", (now,))
            cur.execute(
                "insert or replace into workers (id, info, expires_at) values (?, ?, ?)",
                (worker_id, records.dumps(info), now + ttl),
            )

        self._write(publish)

    def remove_worker(self, worker_id: str) -> None:
        self._write(lambda cur: cur.execute("delete from workers where id = ?", (worker_id,)))

    def workers(self) -> list[dict[str, Any]]:
        sql = "select id, info from workers where expires_at > ? order by id"
        rows = self._read(lambda cur: cur.execute(sql, (time.time(),)).fetchall())
        return [{**json.loads(info), "id": worker_id} for worker_id, info in rows]

    def close(self) -> None:
        with self.lock:
            self.close_connection()


def _reap(cur: sqlite3.Cursor, queue: str, now: float, max_stalls: int) -> tuple[int, Reaped]:
    """A batch of expired leases: those at their last stall on to failed, every other one
    back to waiting with one more stall. One transaction, so nobody sees the step between;
    each job makes one transition, so the event triggers log it once (stalled/recovered).
    Returns how many it examined, and what it did."""
    expired = cur.execute(schema.SQL_EXPIRED, (queue, now, BATCH)).fetchall()
    last = [(job_id, stalls) for job_id, stalls in expired if stalls + 1 >= max_stalls]
    back = [job_id for job_id, stalls in expired if stalls + 1 < max_stalls]
    cur.executemany(
        schema.SQL_STALL,
        [(now, records.dumps(stalled_error(stalls + 1)), job_id) for job_id, stalls in last],
    )
    cur.executemany(schema.SQL_REAP, [(job_id,) for job_id in back])
    return len(expired), Reaped(recovered=back, stalled=[job_id for job_id, _ in last])


def _requeue(cur: sqlite3.Cursor, messages: Mapping[str, tuple[bytes | None, bytes | None]]) -> int:
    """Failed or canceled jobs back to waiting at their old place (their seq), as release
    does; by {id: (data, head)}, each job's message becomes `data`, or keeps its payload
    with `head` for its own head (Backend.requeue_many), or stays. Returns how many: one
    read of the keys and one executemany, not two statements per job."""
    taken: set[str] = set()  # keys taken back earlier in this call
    rows: list[dict[str, Any]] = []
    for job_id, key in _dead_keys(cur, list(messages)).items():
        # Window 0: only a pending job holds the key here. If another pending job took the
        # key meanwhile, this one gives it up rather than making the key ambiguous.
        if key is not None and (key in taken or _key_holder(cur, key, 0.0, 0.0) is not None):
            key = None
        if key is not None:
            taken.add(key)
        data, head = messages[job_id]
        start = _head_start(head)
        row = {"key": key, "data": data, "head": start and head, "start": start, "id": job_id}
        rows.append(row)
    cur.executemany(schema.SQL_REQUEUE, rows)
    return len(rows)


def _head_start(head: bytes | None) -> bytes | None:
    """A compose head up to its id, what a stored message of the same job starts with
    (SQL_REQUEUE, messages.compose_head); None without a head of that shape."""
    cut = head.find(b',"job":') if head else -1
    return head[: cut + 1] if head and cut > 0 else None


def _dead_keys(cur: sqlite3.Cursor, ids: list[str]) -> dict[str, str | None]:
    """The idempotency key of each of `ids` that is failed or canceled."""
    dead: dict[str, str | None] = {}
    for start in range(0, len(ids), BATCH):  # far below SQLite's 32,766 parameters
        batch = ids[start : start + BATCH]
        found = cur.execute(schema.SQL_KEYS.format(", ".join("?" * len(batch))), batch)
        dead.update((job_id, key) for job_id, key, state in found if state in RETRYABLE)
    return dead


def _key_holder(cur: sqlite3.Cursor, key: str, window: float, now: float) -> EnqueueResult | None:
    """The job holding idempotency `key` (see Backend.push), as a deduplicated result: the
    pending job carrying it, else the last to finish if that was within `window` of `now`."""
    row = cur.execute(schema.SQL_PENDING_KEY, (key,)).fetchone()
    if row is None and window > 0:
        job_id, state, finished_at = cur.execute(schema.SQL_FINISHED_KEY, (key,)).fetchone()
        if finished_at is not None and finished_at > now - window:
            row = (job_id, state)
    return None if row is None else EnqueueResult(row[0], row[1], True)


def _purge_bound(
    cur: sqlite3.Cursor, queue: str, state: str, before: float | None, keep: int | None
) -> tuple[float, int] | None:
    """The newest (finished_at, seq) to delete, or None when nothing is to go.

    Both criteria select the oldest rows by finish time, so together they select the
    longer of the two prefixes: the larger bound.
    """
    bounds: list[tuple[float, int]] = []
    if before is not None:
        bounds.append((before, 0))  # seq >= 1: exactly the rows with finished_at < before
    if keep is not None:
        row = cur.execute(schema.SQL_KEEP_CUTOFF, (queue, state, max(keep, 0))).fetchone()
        if row is not None:
            bounds.append((row[0], row[1]))
    return max(bounds, default=None)
