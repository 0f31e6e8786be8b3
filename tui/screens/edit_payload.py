"""`e` on a job's detail: retry it with an edited payload. The editor holds the masked
payload as JSON; `ctrl+s` sends it (a value left masked keeps its stored value, the
runtime checks it against the job's signature as a producer would); a refusal is shown
in one sentence and the text stays as typed. `escape` leaves without retrying."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, TextArea

from tui.data import Disconnected, Refused

Save = Callable[[Any], Any]  # the edited payload in; Refused or Disconnected out


class EditPayload(ModalScreen[bool]):
    """Dismissed with True once the job was retried with the edited payload."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Retry with this payload", id="save"),
        Binding("escape", "leave", "Cancel", id="back"),
    ]

    def __init__(self, job_id: str, masked_payload: Any, save: Save) -> None:
        super().__init__()
        self.job_id = job_id
        self.text = json.dumps(masked_payload, indent=2, ensure_ascii=False)
        self.save = save

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog editor"):
            yield Label(f"retry job {self.job_id} with this payload")
            yield Label("*** and masked values left as they are keep their stored value.")
            yield TextArea(self.text, language=None, id="payload-text")
            yield Label("", id="edit-error")
            yield Label("ctrl+s: retry with this payload   escape: cancel", classes="hint")

    def action_save(self) -> None:
        text = self.query_one(TextArea).text
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            self._refused(f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.")
            return
        self._send(payload)

    @work(thread=True, exclusive=True, group="edit", exit_on_error=False)
    def _send(self, payload: Any) -> None:
        """In a thread: the retry waits on the network."""
        try:
            self.save(payload)
        except (Refused, Disconnected) as exc:
            self.app.call_from_thread(self._refused, str(exc))
            return
        self.app.call_from_thread(self.dismiss, True)

    def _refused(self, why: str) -> None:
        self.query_one("#edit-error", Label).update(why)

    def action_leave(self) -> None:
        self.dismiss(False)
