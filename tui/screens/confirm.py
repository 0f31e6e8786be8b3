"""Confirmations (pinned): `enter` or `y` accepts, `escape` or `n` refuses; a purge asks
for the queue's name to be typed."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class Confirm(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("escape,n", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question)
            yield Label("enter/y: yes   escape/n: no", classes="hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class ConfirmByName(ModalScreen[str | None]):
    """Gives back what was typed (the caller compares it with `name`), None on escape."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "refuse", "Cancel", id="confirm.no")]

    def __init__(self, question: str, name: str) -> None:
        super().__init__()
        self.question = question
        self.name_wanted = name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question)
            yield Label(f"type {self.name_wanted} and enter to confirm; escape cancels")
            yield Input(id="typed")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_refuse(self) -> None:
        self.dismiss(None)
