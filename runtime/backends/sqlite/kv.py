"""Huey's key-value store on SQLite (base/kv.py): Huey's own `kv` and `counter` tables
(the same definitions, so files written by either stay readable), plus `expiring_keys`
for `put_if_empty` with a ttl, which Huey's SqliteStorage refuses."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from runtime.backends.base.kv import KeyValueStore, empty_data
from runtime.backends.sqlite.connection import SqliteDatabase

KV_SCHEMA = [
    """create table if not exists kv (
        queue text not null, key text not null, value blob not null,
        primary key(queue, key))""",
    """create table if not exists counter (
        queue text not null, key text not null, value integer not null default 0,
        primary key(queue, key))""",
    # put_if_empty with a ttl (cron ticks): a key taken until it expires.
    """create table if not exists expiring_keys (
        key text primary key, expires_at real not null)""",
]
SQL_GET = "select value from kv where queue = ? and key = ?"


class SqliteKeyValue(SqliteDatabase, KeyValueStore):
    """The database with Huey's SqliteStorage key-value operations (the SqliteBackend
    is built on it, as it was on Huey's SqliteStorage)."""

    name = "runtime"  # the `queue` column of Huey's tables: Huey's storage name
    ddl = [*SqliteDatabase.ddl, *KV_SCHEMA]

    def put_data(self, key: str, value: bytes, is_result: bool = False) -> None:
        sql = "insert or replace into kv (queue, key, value) values (?, ?, ?)"
        self._write(lambda cur: cur.execute(sql, (self.name, key, value)))

    def peek_data(self, key: str) -> Any:
        row = self._read(lambda cur: cur.execute(SQL_GET, (self.name, key)).fetchone())
        return empty_data() if row is None else row[0]

    def peek_many(self, keys: list[str]) -> dict[str, bytes]:
        sql = f"select key, value from kv where queue = ? and key in ({', '.join('?' * len(keys))})"
        return dict(self._read(lambda cur: cur.execute(sql, (self.name, *keys)).fetchall()))

    def pop_data(self, key: str) -> Any:
        def pop(cur: sqlite3.Cursor) -> Any:
            row = cur.execute(SQL_GET, (self.name, key)).fetchone()
            if row is None:
                return empty_data()
            cur.execute("delete from kv where queue = ? and key = ?", (self.name, key))
            return row[0]

        return self._write(pop)

    def delete_data(self, key: str) -> bool:
        sql = "delete from kv where queue = ? and key = ?"
        return bool(self._write(lambda cur: cur.execute(sql, (self.name, key)).rowcount))

    def has_data_for_key(self, key: str) -> bool:
        return self._read(lambda cur: cur.execute(SQL_GET, (self.name, key)).fetchone()) is not None

    def put_if_empty(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """Without a ttl, into `kv` as Huey does; with one, the key is taken in
        `expiring_keys` by exactly one caller until it expires."""

        def take(cur: sqlite3.Cursor) -> bool:
            if ttl is None:
                sql = "insert or ignore into kv (queue, key, value) values (?, ?, ?)"
                return cur.execute(sql, (self.name, key, value)).rowcount == 1
            now = time.time()
            cur.execute("delete from expiring_keys where expires_at <= ?", (now,))
            cur.execute(
                "insert or ignore into expiring_keys (key, expires_at) values (?, ?)",
                (key, now + ttl),
            )
            return cur.rowcount == 1

        return bool(self._write(take))

    def incr(self, key: str, amount: int = 1) -> int:
        def add(cur: sqlite3.Cursor) -> int:
            cur.execute(
                "insert into counter (queue, key, value) values (?, ?, ?) "
                "on conflict (queue, key) do update set value = value + ?",
                (self.name, key, amount, amount),
            )
            sql = "select value from counter where queue = ? and key = ?"
            return int(cur.execute(sql, (self.name, key)).fetchone()[0])

        return int(self._write(add))

    def delete_counter(self, key: str) -> None:
        sql = "delete from counter where queue = ? and key = ?"
        self._write(lambda cur: cur.execute(sql, (self.name, key)))

    def result_items(self) -> dict[str, bytes]:
        sql = "select key, value from kv where queue = ?"
        return dict(self._read(lambda cur: cur.execute(sql, (self.name,)).fetchall()))

    def result_store_size(self) -> int:
        sql = "select count(*) from kv where queue = ?"
        return int(self._read(lambda cur: cur.execute(sql, (self.name,)).fetchone()[0]))

    def flush_results(self) -> None:
        self._write(lambda cur: cur.execute("delete from kv where queue = ?", (self.name,)))
