"""Queue health as `runtime status` shows it and the alert rules read it: one row per
queue from the backend's overview, and the overall state that open alerts add up to.

Below both runtime.alerts (the rules read the rows) and runtime.control (status prints
them), so that neither has to import the other for them.
"""

from __future__ import annotations

from typing import Any

from runtime.backends.base.storage import COUNTED_STATES, Backend, Overview
from runtime.config import Config

# `runtime status`'s exit code for each overall state (3, unreachable, is the CLI's).
SEVERITY_EXIT = {"ok": 0, "warning": 1, "critical": 2}


def queue_rows(backend: Backend, config: Config) -> list[dict[str, Any]]:
    """`runtime status` queue rows of every known and configured queue, read now."""
    return status_rows(backend.overview(list(config.queues)))


def status_rows(seen: Overview) -> list[dict[str, Any]]:
    """One row per queue of `seen`, by name: paused, COUNTED_STATES counts, live workers."""
    rows = []
    for name in sorted(seen.counts):
        row: dict[str, Any] = {"name": name, "paused": name in seen.paused}
        row.update({state: seen.counts[name][state] for state in COUNTED_STATES})
        row["workers"] = sum(w.get("workers", 0) for w in seen.workers if w.get("queue") == name)
        rows.append(row)
    return rows


def overall(alerts: list[dict[str, Any]]) -> str:
    """ok, warning or critical: the worst FIRING alert (acknowledged ones don't count)."""
    severities = {alert["severity"] for alert in alerts if alert["state"] == "firing"}
    return "critical" if "critical" in severities else "warning" if severities else "ok"
