"""The jobs screen's filter: space-separated qualifiers, `job:NAME` and `id:ID`.

A malformed filter or an unknown qualifier is refused with one sentence naming it."""

from __future__ import annotations

from dataclasses import dataclass

QUALIFIERS = ("job", "id")


class BadFilter(ValueError):
    """The text is not a filter; the message says why."""


@dataclass(frozen=True)
class JobFilter:
    text: str = ""
    job: str | None = None
    job_id: str | None = None


def parse_filter(text: str) -> JobFilter:
    found: dict[str, str] = {}
    for term in text.split():
        name, colon, value = term.partition(":")
        if not colon or not value:
            raise BadFilter(
                f"'{term}' is not a qualifier; write NAME:VALUE, e.g. job:reports.daily."
            )
        if name not in QUALIFIERS:
            known = ", ".join(f"{q}:" for q in QUALIFIERS)
            raise BadFilter(f"unknown qualifier '{name}:'; use {known}.")
        if name in found:
            raise BadFilter(f"'{name}:' is given twice.")
        found[name] = value
    return JobFilter(text=text.strip(), job=found.get("job"), job_id=found.get("id"))
