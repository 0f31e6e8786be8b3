"""The alert store interface: alerts, their lifecycle and their history (runtime.alerts
evaluates the rules; a backend only stores what they found)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

ALERT_STATES = ("firing", "acknowledged", "resolved")
OPEN_ALERT_STATES = ("firing", "acknowledged")
# The states each transition moves an alert from: acknowledge what fires, resolve what is open.
ALERT_MOVES = {"acknowledged": ("firing",), "resolved": OPEN_ALERT_STATES}
# An alert row (`runtime alert list --json` prints ALERT_KEYS; the rest is bookkeeping).
ALERT_KEYS = ("id", "rule", "severity", "queue", "state", "message", "since")
ALERT_FIELDS = (
    *ALERT_KEYS,
    "updated_at",
    "acknowledged_by",
    "acknowledged_at",
    "resolved_by",
    "resolved_at",
)


def alert_changes(state: str, by: str | None, now: float) -> dict[str, Any]:
    """The fields an alert's move to `state` (acknowledged or resolved) sets."""
    prefix = "acknowledged" if state == "acknowledged" else "resolved"
    return {"state": state, "updated_at": now, f"{prefix}_by": by, f"{prefix}_at": now}


class AlertStore(ABC):
    """Alerts and their lifecycle: firing -> acknowledged -> resolved (runtime.alerts).

    An alert is identified by (rule, queue) while open (firing or acknowledged): at most
    one open alert per pair. Once resolved it is history; the same condition coming back
    is a new alert with a new id. Ids are integers, increasing. Rows are dicts with the
    keys of ALERT_FIELDS; times are unix timestamps, absent ones None.
    """

    @abstractmethod
    def open_alerts(self) -> list[dict[str, Any]]:
        """Every firing or acknowledged alert, oldest first."""

    @abstractmethod
    def history(self, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` resolved alerts, last resolved first."""

    @abstractmethod
    def get(self, alert_id: int) -> dict[str, Any] | None: ...

    @abstractmethod
    def fire(
        self, rule: str, severity: str, queue: str, message: str, now: float
    ) -> dict[str, Any] | None:
        """A new firing alert for (rule, queue), or None (nothing stored) when one is open."""

    @abstractmethod
    def refresh(self, alert_id: int, severity: str, message: str, now: float) -> None:
        """An open alert's condition still holds with another severity or message."""

    @abstractmethod
    def transition(
        self, alert_id: int, state: str, by: str | None, now: float
    ) -> tuple[str | None, dict[str, Any] | None]:
        """Move an open alert to `state` (acknowledged: only from firing; resolved: from
        either open state), recording `by` and `now`. Returns (the state it was in, the
        row after) in one atomic step: (None, None) for an unknown id, and the row
        unchanged when the move does not apply."""

    @abstractmethod
    def prune(self, resolved_before: float) -> int:
        """Delete resolved alerts resolved before then; returns how many."""

    @abstractmethod
    def mark_evaluated(self, now: float) -> None:
        """Record that the rules were evaluated and stored at `now`."""

    @abstractmethod
    def last_evaluated(self) -> float | None:
        """When the rules were last evaluated and stored, or None if never."""
