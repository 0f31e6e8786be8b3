"""RedisBackend: job storage and leases on Redis (base/storage.py's Backend).

Each job is one hash (`rt:job:{id}`) holding its record and its message; per-queue sorted
sets say where it is (waiting, delayed, active, failed, completed). Every state change is
one Lua script (`lua/{operation}.lua`: a claim is lua/claim.lua), so a job is never in two
places or in none, and every operation on a claimed job checks the claim's token first
(fencing). records.py encodes what the scripts take and decodes what they return.

Blocking claims follow BullMQ: BZPOPMIN cannot move a member into the active set
atomically (a kill between the pop and the add would lose the job), so a claimer blocks
on a wake-up marker list instead and then claims with the Lua script.

Key names live in keys.py. The scripts build a job's queue keys from its record, so
this backend needs a single Redis server (not Cluster).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.commands.core import Script

from runtime.backends.base.storage import (
    COUNTED_STATES,
    FINAL_STATES,
    STALLED_ERROR,
    Backend,
    Claim,
    EnqueueResult,
    FreshHeads,
    NewJob,
    Overview,
    Reaped,
    final_state,
)
from runtime.backends.redis import keys, records, scripts
from runtime.backends.redis.alerts import RedisAlertStore, alert_row
from runtime.backends.redis.cancellation import RedisCancellation
from runtime.backends.redis.cluster import RedisCluster
from runtime.backends.redis.events import RedisEventLog
from runtime.backends.redis.kv import RedisKeyValue
from runtime.backends.redis.metrics import RedisMetricStore
from runtime.chunks import bounded
from runtime.errors import BackendUnavailable
from runtime.masking import mask_url
from runtime.messages import HEAD_START, describe_message

CONNECT_TIMEOUT = 2.0  # seconds: an unreachable host must fail fast (ping, CLI status)
SOCKET_TIMEOUT = 10.0  # seconds: a silent server must not hang a caller for ever
HEALTH_CHECK_INTERVAL = 15  # seconds idle before a pooled connection is PINGed on reuse
BATCH = 1000  # jobs per promote/reap/purge script call: keeps each call short
SCAN_COUNT = 5000  # keys per SCAN step of an id-prefix lookup: each step stays short

PUSH_BATCH = 500  # jobs per push_many script call: large enough to amortise, small enough
# not to block Redis for long (about 10 ms); and at most this many bytes of messages and
# payloads, so that large jobs make smaller calls (one script argument holds them all).
PUSH_BATCH_BYTES = 4 * 1024 * 1024

SCRIPTS = (
    "push",
    "push_many",
    "claim",
    "renew_many",
    "complete",
    "complete_claim",
    "retry",
    "fail",
    "release",
    "progress",
    "bury",
    "promote",
    "reap",
    "requeue",
    "purge",
    "delete",
    "having_job",
    "overview",
    "drop_workers",
    "beat",
    "forget",
    "finished_slice",
    "requeue_failed",
)

# The state set that holds each state's jobs (delayed also holds retrying).
STATE_SETS = {
    "waiting": keys.WAITING,
    "delayed": keys.DELAYED,
    "retrying": keys.DELAYED,
    "active": keys.ACTIVE,
    "failed": keys.FAILED,
    "completed": keys.COMPLETED,
    "canceled": keys.CANCELED,
}


class RedisBackend(RedisKeyValue, Backend):
    """Lease-based jobs on Redis; Huey's key-value operations (kv.py) share the pool."""

    def __init__(self, url: str, io_timeout: float | None = None) -> None:
        self.display_url = mask_url(url)
        # Options in the URL's query win over these defaults (redis-py merges them last).
        # A pool built this way does not retry commands, which is what we want: a script
        # re-sent after a lost reply could run twice; the daemon retries whole operations.
        options: dict[str, Any] = {
            "socket_connect_timeout": CONNECT_TIMEOUT,
            "socket_timeout": io_timeout or SOCKET_TIMEOUT,
            "health_check_interval": HEALTH_CHECK_INTERVAL,
        }
        if urlsplit(url).scheme != "unix":  # a unix socket connection rejects this option
            options["socket_keepalive"] = True
        self.pool = redis.ConnectionPool.from_url(url, **options)
        super().__init__(redis.Redis(connection_pool=self.pool))
        self._scripts: dict[str, Script] = {
            name: self.conn.register_script(scripts.load_script(name)) for name in SCRIPTS
        }
        timeout = self.pool.connection_kwargs.get("socket_timeout") or SOCKET_TIMEOUT
        # A BLPOP must return before the socket times out, or it reads as an outage.
        self._block_slice = max(min(10.0, float(timeout) / 2), 0.01)
        self.events = RedisEventLog(self.conn, self._block_slice)
        self.alerts = RedisAlertStore(self.conn)
        self.metrics = RedisMetricStore(self.conn)
        self.cluster = RedisCluster(self.conn)
        self.cancels = RedisCancellation(self.conn)

    def _run(self, script: str, *args: Any) -> Any:
        """One script call: EVALSHA, loading the script once if the server lacks it."""
        return self._scripts[script](args=[records.arg(a) for a in args])

    # -- Backend -------------------------------------------------------------------------
    def ping(self) -> None:
        try:
            self.conn.ping()
        # Beyond connection, timeout and auth errors: a URL that points at another kind of
        # server (protocol error) or an ACL user without PING is just as unusable.
        except (redis.RedisError, OSError) as exc:
            reason = str(exc).rstrip(".") or type(exc).__name__
            raise BackendUnavailable(
                f"cannot reach Redis at {self.display_url}: {reason}."
            ) from exc

    def now(self) -> float:
        seconds, microseconds = self.conn.time()
        return seconds + microseconds / 1e6

    def push(self, job: NewJob) -> EnqueueResult:
        return records.enqueue_result(self._run("push", *records.push_args(job)))

    def push_many(self, jobs: list[NewJob]) -> list[EnqueueResult]:
        if not jobs:
            return []
        try:
            batches = bounded(jobs, _job_bytes, PUSH_BATCH, PUSH_BATCH_BYTES)
            calls = [[records.push_rows(batch)] for batch in batches]
            replies = scripts.evalsha_many(self.conn, self._scripts["push_many"], calls)
            return [records.enqueue_result(raw) for reply in replies for raw in reply]
        except UnicodeDecodeError:  # a message that is not text cannot travel in JSON
            per_job = [[records.arg(a) for a in records.push_args(job)] for job in jobs]
            return [
                records.enqueue_result(raw)
                for raw in scripts.evalsha_many(self.conn, self._scripts["push"], per_job)
            ]

    def claim(self, queue: str, lease_seconds: float, timeout: float) -> Claim | None:
        give_up = time.monotonic() + timeout
        while True:
            claimed = self._claim_once(queue, lease_seconds)
            remaining = give_up - time.monotonic()
            if claimed is not None or remaining <= 0:
                return claimed
            # A marker pushed since the failed claim is still in the list, so no wake-up
            # is lost. Redis reads a block time that rounds to 0 ms as "for ever".
            wait = max(min(remaining, self._block_slice), 0.01)
            self.conn.blpop([keys.marker(queue)], timeout=wait)

    def _claim_once(self, queue: str, lease_seconds: float) -> Claim | None:
        args = records.ClaimArgs(lease_seconds, self.worker_id)
        return args.claim(self._run("claim", queue, *args.argv()))

    def renew_many(self, claims: dict[str, str], lease_seconds: float) -> set[str]:
        if not claims:
            return set()
        pairs = [part for claim in claims.items() for part in claim]
        renewed = self._run("renew_many", lease_seconds, *pairs)
        return {records.text(job_id) for job_id in renewed}

    def complete(self, job_id: str, token: str, result: str | None) -> bool:
        return bool(self._run("complete", job_id, token, result))

    def complete_and_claim(
        self, job_id: str, token: str, result: str | None, queue: str, lease_seconds: float
    ) -> tuple[bool, Claim | None]:
        args = records.ClaimArgs(lease_seconds, self.worker_id)
        done, raw = self._run("complete_claim", job_id, token, result, queue, *args.argv())
        return bool(done), args.claim(raw)

    def retry(
        self, job_id: str, token: str, data: bytes, eta: float, error: dict[str, Any]
    ) -> bool:
        delay = eta - time.time()  # the script sets the eta on the server's clock
        return bool(self._run("retry", job_id, token, data, delay, records.dumps(error)))

    def fail(self, job_id: str, token: str, error: dict[str, Any]) -> bool:
        return bool(self._run("fail", job_id, token, records.dumps(error)))

    def release(self, job_id: str, token: str) -> bool:
        return bool(self._run("release", job_id, token))

    def bury(self, queue: str, data: bytes, reason: str) -> str:
        job_id = uuid.uuid4().hex
        name, _ = describe_message(data)
        error = {"type": "PoisonMessage", "message": reason, "traceback": None}
        args = (job_id, queue, name, data, records.dumps(error))
        self._run("bury", *args)
        return job_id

    def progress(self, job_id: str, token: str, percent: float, stage: str | None) -> bool:
        value = records.dumps({"percent": float(percent), "stage": stage})
        return bool(self._run("progress", job_id, token, value))

    def promote_due(self, queue: str, now: float | None = None) -> int:
        return sum(int(moved) for _, moved in self._batches("promote", queue, now))

    def reap_expired(self, queue: str, now: float | None = None, max_stalls: int = 3) -> Reaped:
        recovered: list[str] = []
        stalled: list[str] = []
        error = records.dumps(STALLED_ERROR)  # the script formats the stall count into it
        for _, back, dead in self._batches("reap", queue, now, max_stalls, error):
            recovered += [records.text(i) for i in back]
            stalled += [records.text(i) for i in dead]
        return Reaped(recovered=recovered, stalled=stalled)

    def _batches(self, script: str, queue: str, now: float | None, *extra: Any) -> Iterator[Any]:
        """Replies of a promote/reap script ({ids examined, ...}), run BATCH jobs at a time
        until a call finds less than a full batch."""
        while True:
            reply = self._run(script, queue, now, BATCH, *extra)
            yield reply
            if int(reply[0]) < BATCH:
                return

    # -- dead letters and retention ------------------------------------------------------
    def requeue(self, job_id: str, data: bytes | None = None) -> bool:
        return bool(self._run("requeue", job_id, data, None))

    def requeue_many(self, heads: dict[str, bytes | None]) -> int:
        triples = [part for job_id, head in heads.items() for part in (job_id, None, head)]
        return int(self._run("requeue", *triples)) if triples else 0

    def requeue_failed(
        self, queue: str, until: float, offset: int, count: int, job: str | None, heads: FreshHeads
    ) -> tuple[int, int]:
        fresh = json.dumps(sorted(heads.jobs))
        looked = requeued = 0
        while True:  # one script call, and one more per template the script lacked
            templates = {f"{n}|{p}": rest.decode() for (n, p), rest in heads.known().items()}
            args = (offset + looked - requeued, count - looked, job, fresh, json.dumps(templates))
            seen, done, name, priority = self._run(
                "requeue_failed", queue, until, *args, HEAD_START
            )
            looked, requeued = looked + int(seen), requeued + int(done)
            if not name:
                return looked, requeued
            heads.rest(records.text(name), int(priority))  # known from now on

    def purge(
        self,
        queue: str,
        state: str,
        finished_before: float | None = None,
        keep: int | None = None,
        limit: int = 10_000,
    ) -> int:
        final_state(state)
        keep = None if keep is None else max(keep, 0)
        purged = 0
        while purged < limit:  # in batches, so that no one call blocks Redis for long
            want = min(BATCH, limit - purged)
            examined, deleted = self._run("purge", queue, state, finished_before, keep, want)
            purged += int(deleted)
            if int(examined) < want:
                break
        return purged

    def delete_many(self, job_ids: list[str], state: str | None = None) -> int:
        return int(self._run("delete", state, *job_ids)) if job_ids else 0

    def purge_queue(self, queue: str) -> int:
        deleted = skipped = 0
        while ids := self.conn.zrange(keys.queue_jobs(queue), skipped, skipped + BATCH - 1):
            removed = int(self._run("delete", None, *ids))
            deleted += removed
            skipped += len(ids) - removed  # active jobs stay at the front of the index
        return deleted

    # -- reading -------------------------------------------------------------------------
    def get_job(self, job_id: str) -> dict[str, Any] | None:
        values = self.conn.hmget(keys.job(job_id), records.READ_FIELDS)
        return records.record(values)

    def ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        found: set[str] = set()  # SCAN may return a key twice
        for key in self.conn.scan_iter(match=keys.job(prefix) + "*", count=SCAN_COUNT):
            found.add(records.text(key)[len(keys.JOB_PREFIX) :])
            if len(found) >= limit:
                break
        return sorted(found)[:limit]

    def _push_order_slice(
        self, queue: str | None, below: int | None, count: int
    ) -> list[tuple[int, str]]:
        index = keys.queue_jobs(queue) if queue is not None else keys.ALL_JOBS
        top = "+inf" if below is None else f"({below}"
        entries = self.conn.zrevrangebyscore(
            index, top, "-inf", start=0, num=count, withscores=True
        )
        return [(int(seq), records.text(member)) for member, seq in entries]

    def _state_slice(self, queue: str, state: str, offset: int, count: int) -> list[str]:
        index = keys.queue(queue, STATE_SETS[state])
        read = self.conn.zrevrange if state in FINAL_STATES else self.conn.zrange
        return [records.text(member) for member in read(index, offset, offset + count - 1)]

    def finished_slice(
        self, queue: str, state: str, until: float, offset: int, count: int
    ) -> list[tuple[str, str, int]]:
        reply = self._run("finished_slice", queue, final_state(state), until, offset, count)
        triples = (reply[n : n + 3] for n in range(0, len(reply), 3))
        return [(records.text(i), records.text(job), int(p)) for i, job, p in triples]

    def _records(self, job_ids: list[str]) -> list[dict[str, Any] | None]:
        with self.conn.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hmget(keys.job(job_id), records.READ_FIELDS)
            return [records.record(row) for row in pipe.execute()]

    def _having_job(self, job_ids: list[str], job: str) -> set[str]:
        return {records.text(job_id) for job_id in self._run("having_job", job, *job_ids)}

    def queue_counts(self, queues: list[str]) -> dict[str, dict[str, int]]:
        with self.conn.pipeline(transaction=False) as pipe:
            for name in queues:
                for suffix in (keys.WAITING, keys.DELAYED, keys.ACTIVE, keys.FAILED):
                    pipe.zcard(keys.queue(name, suffix))
                pipe.get(keys.completed_total(name))
            values = pipe.execute()
        # Five replies per queue, in COUNTED_STATES order (completed: the counter).
        replies = iter(values)
        return {
            name: {state: int(next(replies) or 0) for state in COUNTED_STATES} for name in queues
        }

    def overview(self, queues: list[str]) -> Overview:
        raw = json.loads(self._scripts["overview"](keys=[keys.HUEY_RESULTS], args=queues))
        return Overview(
            counts=raw["counts"] or {},
            paused=set(raw["paused"] or ()),
            workers=records.live_workers(records.pairs(raw["workers"]), float(raw["now"])),
            results={name: value.encode() for name, value in records.pairs(raw["results"]).items()},
            leader=raw["leader"] or None,  # cjson: a missing key is `false`
            alerts=sorted(
                (row for flat in raw["alerts"] or () if (row := alert_row(records.pairs(flat)))),
                key=lambda alert: int(alert["id"]),
            ),
            alerts_evaluated=float(raw["alerts_evaluated"]) if raw["alerts_evaluated"] else None,
            now=float(raw["now"]),
        )

    def known_queues(self) -> list[str]:
        return sorted(records.text(name) for name in self.conn.smembers(keys.QUEUES))

    def forget_queue(self, queue: str) -> int:
        held = int(self._run("forget", queue))
        if not held:
            self.metrics.forget(queue)
        return held

    def oldest_waiting(self, queues: list[str]) -> dict[str, float | None]:
        with self.conn.pipeline(transaction=False) as pipe:
            for name in queues:
                pipe.zrange(keys.waiting(name), 0, 0)
            heads = {
                name: records.text(head[0])
                for name, head in zip(queues, pipe.execute(), strict=True)
                if head
            }
            for job_id in heads.values():
                pipe.hmget(keys.job(job_id), "enqueued_at", "eta")
            times = dict(zip(heads, pipe.execute(), strict=True))
        # A head claimed (or purged) between the two reads reads as its record or as None.
        return {
            name: records.waiting_since(*times[name]) if name in times else None for name in queues
        }

    def dead_letters_since(self, queues: list[str], since: float) -> dict[str, int]:
        with self.conn.pipeline(transaction=False) as pipe:
            for name in queues:
                pipe.zcount(keys.failed(name), since, "+inf")
            return {name: int(count) for name, count in zip(queues, pipe.execute(), strict=True)}

    # -- administration ------------------------------------------------------------------
    def set_paused(self, queue: str, paused: bool) -> None:
        if paused:
            self.conn.sadd(keys.PAUSED, queue)
        else:
            self.conn.srem(keys.PAUSED, queue)

    def paused_queues(self) -> set[str]:
        return {records.text(name) for name in self.conn.smembers(keys.PAUSED)}

    def put_worker(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        self._run("beat", worker_id, records.dumps(info), ttl)

    def remove_worker(self, worker_id: str) -> None:
        self.conn.hdel(keys.WORKERS, worker_id)

    def workers(self) -> list[dict[str, Any]]:
        with self.conn.pipeline(transaction=False) as pipe:
            pipe.time()
            pipe.hgetall(keys.WORKERS)
            (seconds, microseconds), raw_beats = pipe.execute()
        now = seconds + microseconds / 1e6  # heartbeats expire on the server's clock
        beats = {records.text(raw_id): raw for raw_id, raw in raw_beats.items()}
        live = records.live_workers(beats, now)
        alive = {worker["id"] for worker in live}
        # Dropped only if still the value read: a live worker may re-publish meanwhile.
        expired = [
            field
            for worker_id, raw in beats.items()
            if worker_id not in alive
            for field in (worker_id, raw)
        ]
        if expired:  # dead workers never remove themselves
            self._scripts["drop_workers"](args=expired)
        return live

    def close(self) -> None:
        self.pool.disconnect()


def _job_bytes(job: NewJob) -> int:
    """What a job adds to a push_many call: its message (which holds its payload)."""
    return len(job.data)
