"""The event log on Redis: one Stream (`rt:events`), trimmed to about EVENTS_CAP entries.

Lifecycle events are appended by the Lua scripts themselves (`emit_event` in
lua/lib.lua), in the script that makes the transition. Fields are flat: the names in
TEXT_FIELDS hold plain strings, every other field holds JSON text. An event's ts is the
milliseconds of its stream id (the server's clock), so no field stores it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from runtime.backends.base.events import EVENT_KEYS, EVENTS_CAP, EventLog
from runtime.backends.redis import keys
from runtime.backends.redis.records import text

# Fields stored as plain strings (the rest is JSON text); '' reads as None.
TEXT_FIELDS = frozenset({"type", "queue", "job_id", "job", "action", "actor"})


class RedisEventLog(EventLog):
    """Events of one RedisBackend, on its client; `block_slice`: the longest one blocking
    read may take (shorter than the socket timeout, or it would read as an outage)."""

    def __init__(self, conn: redis.Redis, block_slice: float) -> None:
        # Any: redis-py types stream replies as RESP2 or RESP3 at once; ours are RESP2.
        self._conn: Any = conn
        self._block_slice = block_slice

    def append(self, event: dict[str, Any]) -> str:
        fields = {
            name: _encode(name, value)
            for name, value in event.items()
            if name not in ("id", "ts") and value is not None
        }
        raw = self._conn.xadd(keys.EVENTS, fields, maxlen=EVENTS_CAP, approximate=True)
        return text(raw)

    def read(
        self, after: str | None = None, limit: int = 100, block: float = 0.0
    ) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        conn = self._conn
        if after is None:
            entries = conn.xrevrange(keys.EVENTS, count=limit)[::-1]
            after = "0-0"  # the log was empty: whatever arrives is new
        else:
            entries = conn.xrange(keys.EVENTS, min=f"({after}", count=limit)
        if not entries and block > 0:
            entries = self._wait(after, limit, block)
        return [_event(raw_id, fields) for raw_id, fields in entries]

    def _wait(self, after: str, limit: int, block: float) -> list[Any]:
        """XREAD BLOCK, a slice at a time, until events arrive or `block` seconds pass."""
        give_up = time.monotonic() + block
        while (remaining := give_up - time.monotonic()) > 0:
            # Redis reads a block time of 0 ms as "for ever".
            wait_ms = max(int(min(remaining, self._block_slice) * 1000), 1)
            reply = self._conn.xread({keys.EVENTS: after}, count=limit, block=wait_ms)
            if reply:
                return list(reply[0][1])
        return []


def _encode(name: str, value: Any) -> str:
    if name in TEXT_FIELDS:
        return str(value)
    return json.dumps(value, separators=(",", ":"), default=str)


def _decode(name: str, raw: bytes) -> Any:
    text = raw.decode()
    if name in TEXT_FIELDS:
        return text or None
    try:
        return json.loads(text)
    except ValueError:  # a script that wrote plain text: shown as it is
        return text


def _event(raw_id: bytes, fields: dict[bytes, bytes]) -> dict[str, Any]:
    event_id = text(raw_id)
    event: dict[str, Any] = dict.fromkeys(EVENT_KEYS)
    event["id"] = event_id
    event["ts"] = int(event_id.partition("-")[0]) / 1000
    for raw_name, raw in fields.items():
        name = raw_name.decode()
        event[name] = _decode(name, raw)
    return event
