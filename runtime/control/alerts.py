"""Alerts as operators handle them: list, acknowledge, resolve (each audited)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime import events
from runtime.backends.base.storage import Backend
from runtime.errors import BadInput

if TYPE_CHECKING:
    from runtime.plugins import Plugins


def list_alerts(
    backend: Backend, include_resolved: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    """Open alerts (firing and acknowledged), oldest first; with `include_resolved`, then
    the last `limit` resolved ones, last resolved first."""
    if limit < 1:
        raise BadInput(f"limit must be at least 1, got {limit}.")
    rows = backend.alerts.open_alerts()
    return rows + backend.alerts.history(limit) if include_resolved else rows


def ack_alert(backend: Backend, alert_id: str) -> dict[str, Any]:
    """Acknowledge a firing alert: it stays listed but no longer raises `runtime status`'s
    exit code. Acknowledging an acknowledged alert changes nothing."""
    before, alert = _move_alert(backend, alert_id, "acknowledged")
    if before == "acknowledged":
        return alert
    if before != "firing":
        raise BadInput(f"alert {alert_id} is resolved; only a firing alert can be acknowledged.")
    events.audit(
        backend, "alert.ack", queue=alert["queue"], alert_id=alert["id"], rule=alert["rule"]
    )
    return alert


def resolve_alert(backend: Backend, plugins: Plugins, alert_id: str) -> dict[str, Any]:
    """Resolve an open alert by hand (plugins hear `alert_resolved`). If its condition
    still holds, the next evaluation fires it again as a new alert: acknowledge instead
    to silence it."""
    before, alert = _move_alert(backend, alert_id, "resolved")
    if before == "resolved":
        raise BadInput(f"alert {alert_id} is already resolved.")
    events.audit(
        backend, "alert.resolve", queue=alert["queue"], alert_id=alert["id"], rule=alert["rule"]
    )
    plugins.notify("alert_resolved", alert=alert)
    return alert


def _move_alert(backend: Backend, alert_id: str, state: str) -> tuple[str, dict[str, Any]]:
    number = int(alert_id) if alert_id.isdigit() else -1
    before, alert = backend.alerts.transition(number, state, events.actor(), backend.now())
    if before is None or alert is None:
        raise BadInput(f"no alert with id '{alert_id}'.")
    return before, alert
