"""The event log interface: the capped stream of lifecycle and control events."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

# The event log keeps the newest EVENTS_CAP events (a Redis Stream trimmed with MAXLEN ~,
# a table trimmed by a trigger on SQLite): about 33,000 jobs' enqueued/started/completed,
# in about 11 MB of Redis memory. BullMQ keeps 10,000; a dashboard wants more history.
EVENTS_CAP = 100_000

# Keys every event has. Lifecycle events add their own (e.g. `attempt`, `error`,
# `progress`); control events add `action`, `actor` and `details` (runtime.events.audit).
EVENT_KEYS = ("id", "ts", "type", "queue", "job_id", "job")


class EventLog(ABC):
    """The capped stream of lifecycle and control events (`runtime events`).

    Backends write lifecycle events in the same script or transaction as the transition
    they describe, so the log never shows a transition that did not happen. Event ids are
    opaque strings, ordered as the log is; values are JSON types.
    """

    @abstractmethod
    def append(self, event: dict[str, Any]) -> str:
        """Append `event` (keys of EVENT_KEYS except `id` and `ts`, which the log assigns,
        plus any JSON-serializable extras); returns its id."""

    @abstractmethod
    def read(
        self, after: str | None = None, limit: int = 100, block: float = 0.0
    ) -> list[dict[str, Any]]:
        """Up to `limit` events after the event with id `after`, oldest first; with
        `after=None`, the newest `limit`. When there are none, waits up to `block` seconds
        for the next ones to arrive."""
