"""Health rules evaluated on read: what makes `runtime status` warn or go critical.

Rules are pure functions of the status snapshot. Thresholds follow the seeds: more than
50 waiting jobs is a warning; a queue with work and no live worker is critical.
"""

from __future__ import annotations

from typing import Any

WAITING_WARNING = 50
SEVERITY_EXIT = {"ok": 0, "warning": 1, "critical": 2}


def evaluate(queues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Firing alerts for the given queue rows (`runtime status` rows)."""
    alerts = []
    for row in queues:
        if row["waiting"] and not row["workers"] and not row["paused"]:
            alerts.append(
                _alert(
                    "no_worker",
                    "critical",
                    row["name"],
                    f"queue {row['name']} has {row['waiting']} waiting jobs and no live worker",
                )
            )
        if row["waiting"] > WAITING_WARNING:
            alerts.append(
                _alert(
                    "waiting_high",
                    "warning",
                    row["name"],
                    f"queue {row['name']} has {row['waiting']} waiting jobs "
                    f"(over {WAITING_WARNING})",
                )
            )
    return alerts


def overall(alerts: list[dict[str, Any]]) -> str:
    severities = {alert["severity"] for alert in alerts}
    return "critical" if "critical" in severities else "warning" if severities else "ok"


def _alert(rule: str, severity: str, queue: str, message: str) -> dict[str, Any]:
    return {
        "id": f"{rule}:{queue}",
        "rule": rule,
        "severity": severity,
        "queue": queue,
        "state": "firing",
        "message": message,
    }
