"""The dashboard's keys: every binding has an id, `[dashboard.keys]` maps ids to other keys
(Textual's keymap), and a read-only dashboard hides the actions that change anything.

A keymap is checked before the app starts, because Textual ignores an unknown id and, on a
key two bindings of one screen now share, silently keeps one of them: both would leave a
user pressing a key that does not do what the config says."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from runtime.errors import BadInput

# The actions that change something (each goes through tui.data's refusing `_act`): a
# read-only dashboard offers none of them, in the footer, the palette or on a key.
CONTROL_ACTIONS = frozenset(
    {
        "pause",
        "purge",
        "bulk",
        "select",
        "select_all",
        "group",
        "act",
        "edit",
        "requeue",
        "ack",
        "resolve",
        "run_now",
    }
)


def offered(action: str, read_only: bool) -> bool:
    """Whether a screen offers `action` (Textual's check_action: False hides the binding
    from the footer and the palette and leaves its key unanswered)."""
    return not (read_only and action in CONTROL_ACTIONS)


def keymap(keys: Mapping[str, str], app: type[App[None]]) -> dict[str, str]:
    """`[dashboard.keys]` checked against the bindings of `app` and every screen it can
    show; BadInput (one sentence) names an unknown id or a key two bindings would share."""
    screens = list(_screens())
    known = {b.id for owner in [app, *screens] for b in _bindings(owner) if b.id}
    unknown = sorted(set(keys) - known)
    if unknown:
        raise BadInput(
            f"[dashboard.keys]: no dashboard binding has the id {', '.join(unknown)}; "
            f"the ids are {', '.join(sorted(known))}."
        )
    for name, value in keys.items():
        if not value.strip() or " " in value.strip():
            raise BadInput(
                f"[dashboard.keys] {name} = {value!r}: give keys such as 'R' or 'ctrl+r,R'."
            )
    for screen in screens:
        _refuse_clashes(keys, [*_bindings(app), *_bindings(screen)], screen.__name__)
    return dict(keys)


def _refuse_clashes(keys: Mapping[str, str], bindings: list[Binding], where: str) -> None:
    """BadInput when, with `keys` applied, one key of `where` would call two bindings and
    at least one of them was moved there by `keys` (the defaults share none)."""
    owners: dict[str, set[str]] = {}
    moved: set[str] = set()
    for binding in bindings:
        name = binding.id or binding.action
        if name in keys:
            moved.add(name)
        for key in keys.get(name, binding.key).split(","):
            owners.setdefault(key.strip(), set()).add(name)
    for key, ids in owners.items():
        if len(ids) > 1 and ids & moved:
            raise BadInput(
                f"[dashboard.keys]: {key} would do both {' and '.join(sorted(ids))} on "
                f"{where}; give one of them another key."
            )


def _screens() -> Iterator[type[Screen[Any]]]:
    """Every screen class of the dashboard (those of tui.screens, imported by tui.app)."""
    pending: list[type[Screen[Any]]] = list(Screen.__subclasses__())
    while pending:
        screen = pending.pop()
        pending += screen.__subclasses__()
        if screen.__module__.startswith("tui.screens."):
            yield screen


def _bindings(owner: type[object]) -> list[Binding]:
    """The bindings `owner` declares and inherits (Textual merges them along the MRO)."""
    found: dict[str, Binding] = {}
    for cls in reversed(owner.__mro__):
        for binding in cls.__dict__.get("BINDINGS", []):
            if isinstance(binding, Binding):
                found[binding.id or f"{cls.__name__}.{binding.action}"] = binding
    return list(found.values())
