"""Workers (`4`): daemons and worker processes from their heartbeats (stale ones marked),
their current jobs with how long each has run, and the stalled jobs (lease expired, or
worker gone), which `r` requeues after a confirmation."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from tui.screens.base import PolledScreen
from tui.screens.confirm import Confirm
from tui.widgets.format import age, count
from tui.widgets.keyed_table import KeyedTable

COLUMNS = (
    "id",
    "kind",
    "state",
    "host",
    "pid",
    "queues",
    "running jobs",
    "processed",
    "rss",
    "heartbeat",
)
STALLED_COLUMNS = ("job id", "job", "queue", "worker", "why", "running", "stalls")


class WorkersScreen(PolledScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "requeue", "Requeue stalled", id="requeue")
    ]

    def body(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="workers")
        yield Static("stalled jobs (r requeues the selected one)", classes="section")
        yield KeyedTable(STALLED_COLUMNS, id="stalled")

    def fetch(self) -> Any:
        return self.dashboard.data.workers()

    def show(self, data: Any) -> None:
        now = data["now"]
        workers = self.query_one("#workers", KeyedTable)
        workers.sync({w["id"]: _cells(w, now) for w in data["workers"]})
        stalled = self.query_one("#stalled", KeyedTable)
        stalled.sync({job["id"]: _stalled_cells(job, now) for job in data["stalled"]})

    def action_requeue(self) -> None:
        job_id = self.query_one("#stalled", KeyedTable).selected_key
        if job_id is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                what = f"requeue {job_id}"
                self.perform(what, self.dashboard.data.requeue_stalled, job_id)

        self.app.push_screen(Confirm(f"Requeue stalled job {job_id}?"), answered)


def _cells(worker: dict[str, Any], now: float) -> tuple[Any, ...]:
    running = worker.get("running") or {}
    return (
        worker["id"],
        worker.get("kind", "?"),
        "stale" if worker.get("stale") else "live",
        worker.get("host", "?"),
        str(worker.get("pid", "?")),
        ",".join(worker.get("queues") or []),
        ", ".join(f"{job_id[:8]} {age(took)}" for job_id, took in running.items()) or "-",
        count(int(worker.get("processed") or 0)),
        f"{int(worker.get('rss') or 0) / 2**20:.0f} MB",
        age(now - worker["heartbeat"]) if worker.get("heartbeat") else "-",
    )


def _stalled_cells(job: dict[str, Any], now: float) -> tuple[Any, ...]:
    started = job.get("started_at")
    return (
        job["id"],
        job["job"],
        job["queue"],
        job.get("worker") or "-",
        job["reason"],
        age(None if started is None else now - started),
        str(job.get("stalls") or 0),
    )
