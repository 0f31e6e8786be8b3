"""Alerts (`5`): open alerts first, then the resolved history; `a` acknowledges, `R`
resolves (if its condition still holds, the next evaluation fires it again)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from tui.screens.base import PolledScreen
from tui.widgets.format import when
from tui.widgets.keyed_table import KeyedTable

COLUMNS = ("id", "state", "severity", "rule", "queue", "message", "since")


class AlertsScreen(PolledScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "ack", "Acknowledge", id="ack"),
        Binding("R", "resolve", "Resolve", id="resolve"),
    ]

    def body(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="alerts")

    def fetch(self) -> Any:
        return self.dashboard.data.alerts()

    def show(self, data: Any) -> None:
        self.query_one(KeyedTable).sync({str(a["id"]): _cells(a) for a in data})

    def action_ack(self) -> None:
        self._on_selected("acknowledge", self.dashboard.data.ack)

    def action_resolve(self) -> None:
        self._on_selected("resolve", self.dashboard.data.resolve)

    def _on_selected(self, verb: str, operation: Any) -> None:
        alert_id = self.query_one(KeyedTable).selected_key
        if alert_id is None:
            return
        self.perform(f"{verb} alert {alert_id}", operation, alert_id)


def _cells(alert: dict[str, Any]) -> tuple[Any, ...]:
    return (
        str(alert["id"]),
        alert["state"],
        alert["severity"],
        alert["rule"],
        alert["queue"],
        alert["message"],
        when(alert.get("since")),
    )
