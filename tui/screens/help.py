"""`?`: the keys of every screen."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = """\
1..8 / tab    screens: Queues, Jobs, Failures, Workers, Alerts, Events, Metrics,
              Plugins & cron
j/k, arrows   move          enter   open          escape   back
/             filter (jobs: job:NAME id:PREFIX payload.FIELD:VALUE error:TEXT)
p             pause or resume the selected queue
P             purge the selected queue (type its name to confirm)
r / c / d     retry / cancel / delete the selected job (or failure group)
e             job detail: retry with an edited payload (ctrl+s sends it)
y             job detail: copy as a `runtime enqueue` command (masked payload)
a             acknowledge the selected alert
R             resolve the selected alert
r (workers)   requeue the selected stalled job
n (cron)      run the selected cron job now (one run, on its queue)
/ (events)    filter (events: type:TYPE queue:NAME job:ID)
space         pause or resume the event log
s (metrics)   span: last hour, 24 hours, 30 days;  [ ] other queues
enter         metrics: the selected job's charts only (again or escape: all)
q             quit          ?       this help
: or ctrl+p   command palette: every screen and this screen's actions
              keys are remapped by binding id in the config's [dashboard.keys]
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", id="close")
    ]

    def __init__(self, read_only: bool) -> None:
        super().__init__()
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        note = "\nread-only: no action is offered.\n" if self.read_only else ""
        with Vertical(classes="dialog"):
            yield Static(KEYS + note)

    def action_close(self) -> None:
        self.dismiss(None)
