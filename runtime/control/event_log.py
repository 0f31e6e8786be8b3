"""The event log as people read it: newest first, filtered by type, queue and job."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime import events
from runtime.backends.base.events import EVENT_KEYS
from runtime.backends.base.storage import Backend
from runtime.masking import mask_payload

if TYPE_CHECKING:
    pass


# Events a filtered read of the newest ones looks through. The logs have no index by queue,
# job or type (a Redis Stream cannot have one), so filters apply here, client side.
EVENT_FILTER_WINDOW = 10_000


# What `read_events(event_type=...)` matches (the dashboard's filter checks against it).
EVENT_TYPES = events.EVENT_TYPES


def read_events(
    backend: Backend,
    *,
    after: str | None = None,
    limit: int = 20,
    block: float = 0.0,
    queue: str | None = None,
    job_id: str | None = None,
    event_type: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Events matching the filters, oldest first: those after the id `after` (at most
    `limit` read), or with `after=None` the newest `limit` matches among the newest
    EVENT_FILTER_WINDOW events; waits up to `block` seconds when none has arrived. Returns
    them and the cursor to pass as `after` next time (the last event read, matching or not).
    """
    wanted = {"queue": queue, "job_id": job_id, "type": event_type}
    wanted = {name: value for name, value in wanted.items() if value is not None}
    window = EVENT_FILTER_WINDOW if wanted and after is None else limit
    batch = backend.events.read(after, max(window, limit), block)
    cursor = batch[-1]["id"] if batch else after
    matching = [e for e in batch if all(e.get(k) == v for k, v in wanted.items())]
    return [_shown_event(event) for event in matching[-limit:]], cursor


def _shown_event(event: dict[str, Any]) -> dict[str, Any]:
    """An event with its extras masked (an error's message, a control action's details);
    who acted and what stays as it is: that is the audit trail."""
    kept = {*EVENT_KEYS, "action", "actor"}
    return {key: value if key in kept else mask_payload(value) for key, value in event.items()}
