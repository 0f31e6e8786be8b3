"""Events: what happened to jobs, and who did what to them.

Lifecycle events (enqueued, started, progress, completed, retrying, failed, stalled,
recovered, released, retried, canceled) are written by the backends themselves, in the
same script or transaction as the transition (see `EventLog` in runtime/backends/base/events.py).
Control actions are written here, by `audit`, from runtime/control.py: every pause,
retry, cancel or purge names the OS user and host that asked for it.

Lifecycle events never carry a payload (personal data); a control event's details are
masked like everything else shown to people.
"""

from __future__ import annotations

import getpass
import socket
from typing import Any

from runtime.backends.base.storage import Backend
from runtime.masking import mask_payload

# Every event type, lifecycle first. `control` events also carry `action` and `actor`.
LIFECYCLE_TYPES = (
    "enqueued",
    "started",
    "progress",
    "completed",
    "retrying",
    "failed",
    "stalled",
    "recovered",
    "released",
    "retried",
    "canceled",
)
CONTROL = "control"
EVENT_TYPES = (*LIFECYCLE_TYPES, CONTROL)


def actor() -> str:
    """Who is acting: `user@host` of this process's OS user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (bare containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def audit(
    backend: Backend,
    action: str,
    *,
    queue: str | None = None,
    job_id: str | None = None,
    job: str | None = None,
    **details: Any,
) -> str:
    """Record the control action `action` (e.g. "pause", "retry") on the event log, with
    its actor and masked `details`; returns the event's id."""
    event = {
        "type": CONTROL,
        "action": action,
        "actor": actor(),
        "queue": queue,
        "job_id": job_id,
        "job": job,
        "details": mask_payload(details),
    }
    return backend.events.append(event)
