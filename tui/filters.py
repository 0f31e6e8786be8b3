"""The jobs and events screens' filters. The jobs screen's: space-separated qualifiers,
combinable: `job:NAME`, `id:PREFIX`, `payload.FIELD:VALUE` (dotted paths, `*` wildcards),
`error:TEXT` (quoted when it holds spaces) and `signature:"TEXT"` (a failure group's).
The events screen's: `type:TYPE queue:NAME job:ID`. A malformed filter or an unknown
qualifier is refused with one sentence naming it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from runtime import control

QUALIFIERS = ("job", "id", "payload.FIELD", "error", "signature")
HINT = "job:NAME id:PREFIX payload.FIELD:VALUE error:TEXT   (enter applies, escape clears)"


class BadFilter(ValueError):
    """The text is not a filter; the message says why."""


@dataclass(frozen=True)
class JobFilter:
    text: str = ""
    job: str | None = None
    id_prefix: str | None = None
    payload: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    signature: str | None = None

    @property
    def searches(self) -> bool:
        """True when jobs must be read one by one to match (a search that streams)."""
        return not self.query().empty and not self.jumps

    @property
    def others(self) -> bool:
        return bool(self.job or self.payload or self.error is not None or self.signature)

    @property
    def jumps(self) -> bool:
        """True for `id:PREFIX` alone: look the job up by id, in any state."""
        return self.id_prefix is not None and not self.others

    def query(self) -> control.JobQuery:
        return control.JobQuery(
            id_prefix=self.id_prefix,
            payload=self.payload,
            error=self.error,
            signature=self.signature,
        )


def parse_filter(text: str) -> JobFilter:
    found: dict[str, str] = {}
    payload: dict[str, str] = {}
    for name, value in _qualifiers(text, "job:reports.daily"):
        if name.startswith("payload.") and name != "payload.":
            _once(payload, name, name.removeprefix("payload."), value)
        elif name in ("job", "id", "error", "signature"):
            _once(found, name, name, value)
        else:
            raise _unknown(name, QUALIFIERS)
    return JobFilter(
        text=text.strip(),
        job=found.get("job"),
        id_prefix=found.get("id"),
        payload=payload,
        error=found.get("error"),
        signature=found.get("signature"),
    )


EVENT_QUALIFIERS = ("type", "queue", "job")
EVENT_HINT = "type:TYPE queue:NAME job:ID   (enter applies, escape clears)"


@dataclass(frozen=True)
class EventFilter:
    """The events screen's filter: `type:TYPE queue:NAME job:ID` (an id or its prefix)."""

    text: str = ""
    event_type: str | None = None
    queue: str | None = None
    job: str | None = None


def parse_event_filter(text: str) -> EventFilter:
    found: dict[str, str] = {}
    for name, value in _qualifiers(text, "type:failed"):
        if name not in EVENT_QUALIFIERS:
            raise _unknown(name, EVENT_QUALIFIERS)
        _once(found, name, name, value)
    event_type = found.get("type")
    if event_type is not None and event_type not in control.EVENT_TYPES:
        raise BadFilter(f"unknown event type '{event_type}'; use {', '.join(control.EVENT_TYPES)}.")
    return EventFilter(text.strip(), event_type, found.get("queue"), found.get("job"))


def _qualifiers(text: str, example: str) -> list[tuple[str, str]]:
    """The (name, value) of each `NAME:VALUE` term of `text`; BadFilter for anything else."""
    try:
        terms = shlex.split(text)  # error:"order 7 failed" is one term
    except ValueError:
        raise BadFilter('a quote is not closed; write error:"some text".') from None
    pairs = []
    for term in terms:
        name, colon, value = term.partition(":")
        if not colon or not value or not name:
            raise BadFilter(f"'{term}' is not a qualifier; write NAME:VALUE, e.g. {example}.")
        pairs.append((name, value))
    return pairs


def _unknown(name: str, known: tuple[str, ...]) -> BadFilter:
    return BadFilter(f"unknown qualifier '{name}:'; use {', '.join(f'{q}:' for q in known)}.")


def _once(into: dict[str, str], shown: str, key: str, value: str) -> None:
    if key in into:
        raise BadFilter(f"'{shown}:' is given twice.")
    into[key] = value
