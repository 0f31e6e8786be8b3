"""Workers (`4`): daemons and worker processes from their heartbeats."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult

from tui.screens.base import PolledScreen
from tui.widgets.format import age, count
from tui.widgets.keyed_table import KeyedTable

COLUMNS = ("id", "kind", "host", "pid", "queues", "current jobs", "processed", "rss", "heartbeat")


class WorkersScreen(PolledScreen):
    own_data = False  # live heartbeats come with the home snapshot

    def body(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="workers")

    def home_changed(self) -> None:
        super().home_changed()
        home = self.dashboard.home
        if home is not None:
            now = home["now"]
            self.query_one(KeyedTable).sync({w["id"]: _cells(w, now) for w in home["workers"]})


def _cells(worker: dict[str, Any], now: float) -> tuple[Any, ...]:
    current = worker.get("current_jobs") or []
    return (
        worker["id"],
        worker.get("kind", "?"),
        worker.get("host", "?"),
        str(worker.get("pid", "?")),
        ",".join(worker.get("queues") or []),
        ", ".join(job_id[:8] for job_id in current) or "-",
        count(int(worker.get("processed") or 0)),
        f"{int(worker.get('rss') or 0) / 2**20:.0f} MB",
        age(now - worker["heartbeat"]) if worker.get("heartbeat") else "-",
    )
