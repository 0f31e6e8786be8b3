"""The jobs screen's filter: space-separated qualifiers, combinable: `job:NAME`,
`id:PREFIX`, `payload.FIELD:VALUE` (dotted paths, `*` wildcards), `error:TEXT` (quoted
when it holds spaces) and `signature:"TEXT"` (a failure group's). A malformed filter or an
unknown qualifier is refused with one sentence naming it."""

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
    try:
        terms = shlex.split(text)  # error:"order 7 failed" is one term
    except ValueError:
        raise BadFilter('a quote is not closed; write error:"some text".') from None
    for term in terms:
        name, colon, value = term.partition(":")
        if not colon or not value or not name:
            raise BadFilter(
                f"'{term}' is not a qualifier; write NAME:VALUE, e.g. job:reports.daily."
            )
        if name.startswith("payload.") and name != "payload.":
            _once(payload, name, name.removeprefix("payload."), value)
        elif name in ("job", "id", "error", "signature"):
            _once(found, name, name, value)
        else:
            known = ", ".join(f"{q}:" for q in QUALIFIERS)
            raise BadFilter(f"unknown qualifier '{name}:'; use {known}.")
    return JobFilter(
        text=text.strip(),
        job=found.get("job"),
        id_prefix=found.get("id"),
        payload=payload,
        error=found.get("error"),
        signature=found.get("signature"),
    )


def _once(into: dict[str, str], shown: str, key: str, value: str) -> None:
    if key in into:
        raise BadFilter(f"'{shown}:' is given twice.")
    into[key] = value
