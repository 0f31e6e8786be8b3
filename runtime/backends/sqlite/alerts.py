"""Alerts on SQLite: one `alerts` table. A partial unique index keeps at most one open
alert per (rule, queue); another indexes resolved ones by resolve time for pruning."""

from __future__ import annotations

import sqlite3
from typing import Any

from runtime.backends.base.alerts import ALERT_FIELDS, ALERT_MOVES, AlertStore, alert_changes
from runtime.backends.sqlite.connection import Transaction

# AUTOINCREMENT: ids are never reused after the newest alerts are pruned, so an id in an
# audit event names one alert for ever.
ALERT_SCHEMA = [
    """create table if not exists alerts (
        id integer primary key autoincrement,
        rule text not null,
        severity text not null,
        queue text not null,
        state text not null,
        message text not null,
        since real not null,
        updated_at real not null,
        acknowledged_by text,
        acknowledged_at real,
        resolved_by text,
        resolved_at real)""",
    """create unique index if not exists alerts_open on alerts (rule, queue)
        where state != 'resolved'""",
    """create index if not exists alerts_resolved on alerts (resolved_at)
        where state = 'resolved'""",
    """create table if not exists alerts_evaluated (
        id integer primary key check (id = 1), at real not null)""",
]

COLUMNS = ", ".join(ALERT_FIELDS)
SQL_FIRE = """insert or ignore into alerts (rule, severity, queue, state, message, since,
    updated_at) values (?, ?, ?, 'firing', ?, ?, ?)"""


class SqliteAlertStore(AlertStore):
    """The alerts of one SqliteBackend, through its read and write transactions."""

    def __init__(self, read: Transaction, write: Transaction) -> None:
        self._read = read
        self._write = write

    def open_alerts(self) -> list[dict[str, Any]]:
        sql = f"select {COLUMNS} from alerts where state != 'resolved' order by id"
        return self._select(sql)

    def history(self, limit: int) -> list[dict[str, Any]]:
        sql = f"""select {COLUMNS} from alerts where state = 'resolved'
            order by resolved_at desc limit ?"""
        return self._select(sql, limit)

    def get(self, alert_id: int) -> dict[str, Any] | None:
        rows = self._select(f"select {COLUMNS} from alerts where id = ?", alert_id)
        return rows[0] if rows else None

    def _select(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        rows = self._read(lambda cur: cur.execute(sql, params).fetchall())
        return [dict(zip(ALERT_FIELDS, row, strict=True)) for row in rows]

    def fire(
        self, rule: str, severity: str, queue: str, message: str, now: float
    ) -> dict[str, Any] | None:
        def insert(cur: sqlite3.Cursor) -> int | None:
            # The unique partial index ignores the insert while (rule, queue) is open.
            cur.execute(SQL_FIRE, (rule, severity, queue, message, now, now))
            return cur.lastrowid if cur.rowcount == 1 else None

        alert_id = self._write(insert)
        return None if alert_id is None else self.get(alert_id)

    def refresh(self, alert_id: int, severity: str, message: str, now: float) -> None:
        sql = "update alerts set severity = ?, message = ?, updated_at = ? where id = ?"
        self._write(lambda cur: cur.execute(sql, (severity, message, now, alert_id)))

    def transition(
        self, alert_id: int, state: str, by: str | None, now: float
    ) -> tuple[str | None, dict[str, Any] | None]:
        def move(cur: sqlite3.Cursor) -> tuple[str | None, dict[str, Any] | None]:
            found = cur.execute(f"select {COLUMNS} from alerts where id = ?", (alert_id,))
            raw = found.fetchone()
            if raw is None:
                return None, None
            row = dict(zip(ALERT_FIELDS, raw, strict=True))
            if row["state"] not in ALERT_MOVES[state]:
                return row["state"], row
            changes = alert_changes(state, by, now)
            assignments = ", ".join(f"{name} = ?" for name in changes)
            cur.execute(
                f"update alerts set {assignments} where id = ?", (*changes.values(), alert_id)
            )
            return row["state"], {**row, **changes}

        result: tuple[str | None, dict[str, Any] | None] = self._write(move)
        return result

    def prune(self, resolved_before: float) -> int:
        sql = "delete from alerts where state = 'resolved' and resolved_at < ?"
        pruned: int = self._write(lambda cur: cur.execute(sql, (resolved_before,)).rowcount)
        return pruned

    def mark_evaluated(self, now: float) -> None:
        sql = "insert or replace into alerts_evaluated (id, at) values (1, ?)"
        self._write(lambda cur: cur.execute(sql, (now,)))

    def last_evaluated(self) -> float | None:
        rows = self._read(lambda cur: cur.execute("select at from alerts_evaluated").fetchall())
        return float(rows[0][0]) if rows else None
