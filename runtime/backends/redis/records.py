"""How job records, claims and pushes travel to and from Redis: script arguments, the
job hash's fields decoded into a record, replies parsed into results.

A job hash (`rt:job:{id}`, see keys.py) stores every record field as text: dicts as JSON,
numbers as their repr, absent fields not at all. Scripts read '' as an absent argument.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Sequence
from typing import Any

from runtime.backends.base.storage import RECORD_KEYS, Claim, EnqueueResult, NewJob
from runtime.messages import payload_of

JSON_FIELDS = frozenset({"progress", "result", "error"})
# The hash fields HMGET reads for RECORD_KEYS: the payload is stored once, in the message.
READ_FIELDS = tuple("data" if name == "payload" else name for name in RECORD_KEYS)
INT_FIELDS = frozenset({"attempts", "priority", "stalls"})
# Values of fields a record may lack: `stalls` is first written when a lease expires.
ABSENT = {"stalls": 0}
FLOAT_FIELDS = frozenset({"enqueued_at", "started_at", "finished_at", "eta"})


def arg(value: Any) -> Any:
    """A script argument: None as '' (scripts read '' as absent). redis-py sends floats
    as repr(), which round-trips exactly."""
    return "" if value is None else value


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def live_workers(beats: dict[str, Any], now: float) -> list[dict[str, Any]]:
    """The info of each heartbeat (worker id -> JSON {"expires_at", "beat_at", "info"},
    lua/beat.lua) still live at `now` (the server's time), with its `id` and its
    `heartbeat` on the server's clock, sorted by id."""
    live = []
    for worker_id, raw in sorted(beats.items()):
        beat = json.loads(raw)
        if beat["expires_at"] > now:
            info = beat["info"]
            if "heartbeat" in info:  # the time it was sent, on the server's clock
                info = {**info, "heartbeat": beat["beat_at"]}
            live.append({**info, "id": worker_id})
    return live


def pairs(flat: Any) -> dict[str, Any]:
    """A dict from a flat [key, value, ...] reply (cjson turns an empty one into {})."""
    items = list(flat or ())
    return dict(zip(items[::2], items[1::2], strict=True))


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def push_args(job: NewJob) -> tuple[Any, ...]:
    """ARGV of lua/push.lua."""
    return (
        job.id,
        job.job,
        job.queue,
        job.data,
        int(job.priority),
        job.delay(),
        job.key or None,
        float(job.key_window),
    )


def push_rows(jobs: Sequence[NewJob]) -> str:
    """A batch for lua/push_many.lua as one JSON argument: encoding it is one C call,
    where redis-py would pack ten arguments per job in Python."""
    rows = [
        [
            job.id,
            job.job,
            job.queue,
            job.data.decode(),
            int(job.priority),
            "" if job.eta is None else job.delay(),
            job.key or "",
            float(job.key_window),
        ]
        for job in jobs
    ]
    return json.dumps(rows, separators=(",", ":"))


def waiting_since(enqueued_at: bytes | None, eta: bytes | None) -> float | None:
    if enqueued_at is None:
        return None
    return max(float(enqueued_at), float(eta or 0))


def enqueue_result(raw: list[Any]) -> EnqueueResult:
    job_id, state, deduplicated = raw
    return EnqueueResult(text(job_id), text(state), bool(deduplicated))


def record(values: list[bytes | None]) -> dict[str, Any] | None:
    """A record from HMGET of READ_FIELDS, or None if the job does not exist."""
    if values[0] is None:  # `id` is set on every record
        return None
    return {
        name: decode(name, value)
        for name, value in zip(RECORD_KEYS, values[: len(RECORD_KEYS)], strict=True)
    }


def decode(name: str, value: bytes | None) -> Any:
    if value is None:
        return ABSENT.get(name)
    if name == "payload":  # read from the message (READ_FIELDS)
        return payload_of(value)
    text = value.decode()
    if name in JSON_FIELDS:
        try:
            return json.loads(text)
        except ValueError:  # a result stored by a caller that did not send JSON: as is
            return text
    if name in INT_FIELDS:
        return int(text)
    if name in FLOAT_FIELDS:
        return float(text)
    return text


class ClaimArgs:
    """The ARGV a claim needs (fresh token, lease seconds, worker), and its reply parsed.
    The script sets the deadline on the server's clock and replies with it."""

    def __init__(self, lease_seconds: float, worker: str | None) -> None:
        self.token = uuid.uuid4().hex
        self.lease_seconds = float(lease_seconds)
        # Outside a worker process, the claiming process; the pid is read per claim, not
        # cached: right after a fork the pid is the child's.
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"

    def argv(self) -> tuple[Any, ...]:
        return (self.token, self.lease_seconds, self.worker)

    def claim(self, raw: Any) -> Claim | None:
        if not raw:
            return None
        job_id, data, attempts, waited, deadline = raw
        return Claim(
            text(job_id),
            self.token,
            bytes(data),
            int(attempts),
            float(deadline),
            float(waited) if waited else None,
        )
