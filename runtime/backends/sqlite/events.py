"""The event log on SQLite: an `events` table, trimmed to about EVENTS_CAP rows.

Lifecycle events are written by triggers on `jobs`, so they commit in the transaction of
the transition they describe, and every statement that changes a job's state (today's
and any added later) is covered without a line of Python. The triggers map the old state
to the new one the way the Redis scripts name their transitions; a promotion (delayed or
retrying -> waiting) is not an event.

Extra keys of an event (`attempt`, `error`, `progress`, ...) are one JSON object in `data`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from runtime.backends.base.events import EVENT_KEYS, EVENTS_CAP, EventLog
from runtime.backends.sqlite.connection import Transaction
from runtime.backends.sqlite.records import dumps

POLL = 0.1  # seconds between reads while `read` blocks: SQLite cannot wait for a write
TRIM_EVERY = 100  # the cap is enforced every this many events, so a trim deletes in bulk

# Unix time with sub-second precision (SQLite 3.40 lacks unixepoch('subsec')).
NOW = "(julianday('now') - 2440587.5) * 86400.0"
# An error without its traceback (long, and it may quote personal data).
ERROR = """json_object('type', json_extract(new.error, '$.type'),
                       'message', json_extract(new.error, '$.message'))"""
INSERT = "insert into events (ts, type, queue, job_id, job, data)"

EVENTS_SCHEMA = [
    """create table if not exists events (
        id integer primary key, ts real not null, type text not null,
        queue text, job_id text, job text, data text)""",
    f"""create trigger if not exists events_cap after insert on events
        when new.id % {TRIM_EVERY} = 0
        begin delete from events where id <= new.id - {EVENTS_CAP}; end""",
    # A push, or a message buried as failed (poison).
    f"""create trigger if not exists jobs_event_insert after insert on jobs
        begin {INSERT}
        select {NOW}, case new.state when 'failed' then 'failed' else 'enqueued' end,
            new.queue, new.id, new.job,
            case new.state when 'failed' then json_object('error', json({ERROR}))
                else json_object('state', new.state) end;
        end""",
    f"""create trigger if not exists jobs_event_state after update of state on jobs
        when old.state is not new.state
        begin {INSERT}
        select {NOW}, type, new.queue, new.id, new.job, data from (select
            case
                when new.state = 'active' then 'started'
                when new.state in ('completed', 'retrying', 'canceled') then new.state
                when new.state = 'failed' then
                    iif(json_extract(new.error, '$.type') = 'Stalled', 'stalled', 'failed')
                when new.state = 'waiting' and old.state = 'active' then
                    iif(new.stalls > old.stalls, 'recovered', 'released')
                when new.state = 'waiting' and old.state in ('failed', 'canceled') then
                    'retried'
            end as type,
            case
                when new.state = 'active' then json_object('attempt', new.attempts)
                when new.state = 'retrying' then
                    json_object('error', json({ERROR}), 'eta', new.eta)
                when new.state = 'failed' then json_object('error', json({ERROR}))
                when new.state = 'waiting' and new.stalls > old.stalls then
                    json_object('stalls', new.stalls)
            end as data)
        where type is not null;
        end""",
    f"""create trigger if not exists jobs_event_progress after update of progress on jobs
        when new.progress is not null
        begin {INSERT}
        select {NOW}, 'progress', new.queue, new.id, new.job,
            json_object('progress', json(new.progress));
        end""",
]

SQL_APPEND = f"{INSERT} values (?, ?, ?, ?, ?, ?) returning id"
SQL_NEWEST = "select * from (select * from events order by id desc limit ?) order by id"
SQL_AFTER = "select * from events where id > ? order by id limit ?"


class SqliteEventLog(EventLog):
    """Events of one SqliteBackend, through its read and write transactions."""

    def __init__(self, read: Transaction[Any], write: Transaction[Any]) -> None:
        self._read = read
        self._write = write

    def append(self, event: dict[str, Any]) -> str:
        extra = {k: v for k, v in event.items() if k not in EVENT_KEYS}
        row = (
            time.time(),
            event["type"],
            event.get("queue"),
            event.get("job_id"),
            event.get("job"),
            dumps(extra) if extra else None,
        )
        return str(self._write(lambda cur: cur.execute(SQL_APPEND, row).fetchone()[0]))

    def read(
        self, after: str | None = None, limit: int = 100, block: float = 0.0
    ) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        if after is None:
            rows = self._rows(SQL_NEWEST, (limit,))
            if rows or block <= 0:
                return [_event(row) for row in rows]
            after = "0"  # the log was empty: whatever arrives is new
        give_up = time.monotonic() + block
        while True:
            rows = self._rows(SQL_AFTER, (_position(after), limit))
            remaining = give_up - time.monotonic()
            if rows or remaining <= 0:
                return [_event(row) for row in rows]
            time.sleep(min(POLL, remaining))

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return list(self._read(lambda cur: cur.execute(sql, params).fetchall()))


def _position(after: str) -> int:
    try:
        return int(after)
    except ValueError:
        raise ValueError(f"'{after}' is not an event id of a SQLite event log") from None


def _event(row: tuple[Any, ...]) -> dict[str, Any]:
    """A row of `events`: the columns in EVENT_KEYS order, then `data`."""
    event = dict(zip(EVENT_KEYS, row, strict=False))
    event["id"] = str(event["id"])
    if row[-1]:
        event.update(json.loads(row[-1]))
    return event
