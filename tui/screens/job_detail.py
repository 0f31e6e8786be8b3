"""A job's detail (`enter` on a job): the masked payload, attempts, progress, result and
error with its traceback; `r` retry, `c` cancel (running jobs too), `d` delete, `e` retry
with an edited payload, `y` copy as a `runtime enqueue` command."""

from __future__ import annotations

import json
import shlex
from functools import partial
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, ProgressBar, Static

from tui.data import RETRYABLE, DashboardData, Disconnected, Refused
from tui.keymap import offered
from tui.screens.confirm import Confirm
from tui.screens.edit_payload import EditPayload
from tui.widgets.format import age, when


class JobDetail(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="back"),
        Binding("r", "act('retry')", "Retry", id="retry"),
        Binding("c", "act('cancel')", "Cancel", id="cancel"),
        Binding("d", "act('delete')", "Delete", id="delete"),
        Binding("e", "edit", "Retry edited", id="edit"),
        Binding("y", "copy_command", "Copy as command", id="copy_command"),
    ]

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.record: dict[str, Any] | None = None

    @property
    def data(self) -> DashboardData:
        return self.app.data  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="detail"):
            yield Static(f"job {self.job_id}", id="title")
            yield Static(id="summary")
            yield ProgressBar(total=100, show_eta=False, id="progress")
            yield Static(id="timeline")
            yield Static(id="payload")
            yield Static(id="outcome")
            yield Static(id="command")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#progress", ProgressBar).display = False
        self.set_interval(self.app.refresh_seconds, self.load)  # type: ignore[attr-defined]
        self.load()

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def load(self) -> None:
        try:
            record = self.data.job_detail(self.job_id)
            timeline = self.data.timeline(self.job_id)
        except (Disconnected, Refused) as exc:
            self.app.call_from_thread(self._unavailable, str(exc))
            return
        self.app.call_from_thread(self._show, record, timeline)

    def _unavailable(self, why: str) -> None:
        self.query_one("#summary", Static).update(f"[red]{why}[/]")

    def _show(self, record: dict[str, Any], timeline: list[dict[str, Any]]) -> None:
        self.record = record
        self.query_one("#summary", Static).update(_summary(record))
        self.query_one("#timeline", Static).update(_timeline(timeline))
        self._show_progress(record.get("progress"), record["state"])
        payload = json.dumps(record["payload"], indent=2, ensure_ascii=False)
        self.query_one("#payload", Static).update(f"[b]payload[/]\n{_escape(payload)}")
        self.query_one("#outcome", Static).update(_outcome(record))
        command = _command(record)
        self.query_one("#command", Static).update(
            f"[b]as a command[/] (masked payload)\n{_escape(command)}"
        )

    def _show_progress(self, progress: dict[str, Any] | None, state: str) -> None:
        bar = self.query_one("#progress", ProgressBar)
        bar.display = progress is not None and state == "active"
        if progress is not None:
            bar.update(progress=float(progress.get("percent") or 0))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_copy_command(self) -> None:
        """A read, so offered read-only too: the payload is the masked one, as shown."""
        if self.record is None:
            return
        command = _command(self.record)
        self.app.copy_to_clipboard(command)
        self.app.notify(command, title="copied (masked payload: put secrets back)")

    def action_edit(self) -> None:
        if self.record is None:
            return
        record = self.record

        def edited(retried: bool | None) -> None:
            if retried:
                self.app.notify("done", title=f"retry job {self.job_id[:12]} edited")
                self.load()

        if record["state"] not in RETRYABLE:
            message = f"job {self.job_id} is {record['state']}; only failed or canceled jobs retry."
            self.app.notify(message, severity="warning")
            return
        save = partial(self.data.retry_edited, self.job_id)
        self.app.push_screen(EditPayload(self.job_id, record["payload"], save), edited)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool:
        return offered(action, self.data.read_only)

    def action_act(self, action: str) -> None:
        operation = {
            "retry": self.data.retry,
            "cancel": self.data.cancel,
            "delete": self.data.delete,
        }
        title = f"{action} job {self.job_id[:12]}"

        def answered(yes: bool | None) -> None:
            if yes:
                self._run(title, operation[action])

        self.app.push_screen(Confirm(f"{action.capitalize()} job {self.job_id}?"), answered)

    @work(thread=True, group="detail-act", exit_on_error=False)
    def _run(self, title: str, operation: Any) -> None:
        try:
            outcome = operation(self.job_id)
        except (Refused, Disconnected) as exc:
            self.app.call_from_thread(self.app.notify, str(exc), title=title, severity="error")
            return
        asked = isinstance(outcome, dict) and outcome.get("cancel_requested")
        said = "asked to stop: recorded canceled once it does" if asked else "done"
        self.app.call_from_thread(self.app.notify, said, title=title)
        self.app.call_from_thread(self.load)


def _summary(record: dict[str, Any]) -> str:
    of = f" of {record['max_attempts']}" if record.get("max_attempts") else ""
    lines = [
        f"[b]{record['job']}[/] on {record['queue']}: [b]{record['state']}[/], "
        f"attempt {record['attempts']}{of}, priority {record['priority']}",
        f"enqueued {when(record['enqueued_at'])}   started {when(record['started_at'])}   "
        f"finished {when(record['finished_at'])}",
    ]
    if record.get("next_retry_at"):
        lines.append(f"next retry {when(record['next_retry_at'])}")
    elif record.get("eta") and record["state"] == "delayed":
        lines.append(f"due {when(record['eta'])}")
    if record.get("worker"):
        lines.append(f"worker {record['worker']}")
    progress = record.get("progress")
    if progress is not None:
        stage = f" ({progress['stage']})" if progress.get("stage") else ""
        lines.append(
            f"progress {progress.get('percent', 0):.0f}%{stage}  eta {age(progress.get('eta'))}"
        )
    return "\n".join(_escape(line) if i > 0 else line for i, line in enumerate(lines))


def _timeline(events: list[dict[str, Any]]) -> str:
    """One line per lifecycle event: time, what happened, the attempt or error, who."""
    lines = ["[b]timeline[/]"]
    for event in events:
        detail = ""
        if event.get("attempt") is not None:
            detail = f"attempt {event['attempt']}"
        if event.get("error"):
            detail = f"{event['error'].get('type')}: {event['error'].get('message')}"
        if event.get("actor"):
            detail = f"by {event['actor']}"
        lines.append(_escape(f"{when(event.get('ts'))}  {event['type']:<10} {detail}"))
    return "\n".join(lines) if events else "[b]timeline[/]\n(no events: older than the log keeps)"


def _command(record: dict[str, Any]) -> str:
    """The job as a `runtime enqueue` command line, shell-quoted (its masked payload)."""
    payload = json.dumps(record["payload"], ensure_ascii=False)
    words = ["runtime", "enqueue", record["job"], "--payload", payload, "--queue", record["queue"]]
    return shlex.join(words)


def _outcome(record: dict[str, Any]) -> str:
    error = record.get("error")
    if error:
        trace = error.get("traceback") or ""
        return _escape(f"error {error['type']}: {error['message']}\n{trace}")
    if record.get("result") is not None:
        return _escape(f"result {json.dumps(record['result'], ensure_ascii=False)}")
    return ""


def _escape(text: str) -> str:
    """Text shown as is: Rich markup in a payload or traceback must not be interpreted."""
    return text.replace("[", r"\[")
