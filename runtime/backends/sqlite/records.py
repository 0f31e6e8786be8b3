"""How job records travel to and from the `jobs` table: the row of a pushed job, a row
read back as a record (dicts stored as JSON text), values as JSON text."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from runtime.backends.base.storage import RECORD_KEYS, NewJob
from runtime.backends.sqlite import schema
from runtime.messages import payload_of


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def insert_row(job: NewJob, state: str, now: float) -> tuple[Any, ...]:
    """Parameters of schema.SQL_INSERT for a freshly pushed job."""
    return (
        job.id,
        job.job,
        job.queue,
        state,
        job.priority,
        job.data,
        "",  # the payload column: the payload is stored once, in `data`
        job.key,
        now,
        job.eta,
        None,
        None,
    )


def record(row: Iterable[Any]) -> dict[str, Any]:
    record = dict(zip(RECORD_KEYS, row, strict=True))
    for name in schema.JSON_FIELDS:
        record[name] = loads(record[name])
    record["payload"] = payload_of(record["payload"])  # the `data` column: see RECORD_COLUMNS
    return record


def loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:  # a result stored by a caller that did not send JSON: show it as is
        return text
