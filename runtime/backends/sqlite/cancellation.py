"""Cancellation on SQLite (base/cancellation.py).

A cancel request is the job row's `cancel_requested` column (schema.py's ADDED_COLUMNS),
holding the token of the claim it was made for.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from runtime.backends.base.cancellation import Cancellation
from runtime.backends.sqlite.connection import Transaction

SQL_CANCEL_WAITING = """
    update jobs set state = 'canceled', finished_at = ? where id = ?"""
SQL_CANCEL_REQUEST = "update jobs set cancel_requested = token where id = ?"
SQL_CANCEL_ACTIVE = """
    update jobs set state = 'canceled', finished_at = ?, token = null, lease_deadline = null
    where id = ? and token = ? and state = 'active'"""


class SqliteCancellation(Cancellation):
    def __init__(self, read: Transaction[Any], write: Transaction[Any]) -> None:
        self._read = read
        self._write = write

    def cancel(self, job_id: str) -> str | None:
        def cancel(cur: sqlite3.Cursor) -> str | None:
            row = cur.execute("select state from jobs where id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            state: str = row[0]
            if state == "active":
                cur.execute(SQL_CANCEL_REQUEST, (job_id,))
            elif state in ("waiting", "delayed", "retrying"):
                cur.execute(SQL_CANCEL_WAITING, (time.time(), job_id))
            return state

        result: str | None = self._write(cancel)
        return result

    def requested(self, claims: dict[str, str]) -> set[str]:
        if not claims:
            return set()
        sql = """select id, cancel_requested from jobs
            where id in (select value from json_each(?)) and cancel_requested is not null"""
        ids = json.dumps(list(claims))
        rows = self._read(lambda cur: cur.execute(sql, (ids,)).fetchall())
        return {job_id for job_id, token in rows if claims[job_id] == token}

    def finish(self, job_id: str, token: str) -> bool:
        params = (time.time(), job_id, token)
        return bool(self._write(lambda cur: cur.execute(SQL_CANCEL_ACTIVE, params).rowcount == 1))
