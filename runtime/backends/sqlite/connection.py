"""One SQLite database file shared by every local process: Huey's SqliteStorage with the
connection settings and transactions every part of the SQLite backend uses.

Concurrency: each process (one per queue, plus the CLI and the dashboard) opens the file
with its own connection; inside a process Huey's single connection is shared by all threads
behind `self.lock`. WAL lets readers run while one writer writes; writers take the write
lock up front (`BEGIN IMMEDIATE`) so a transaction never has to upgrade a read lock, the
one case where SQLite reports "database is locked" without waiting. `synchronous=NORMAL`
with WAL survives `kill -9` of any process (only a power cut can lose the last commits,
like Redis without fsync) and makes a push several times cheaper than FULL.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from huey.storage import SqliteStorage

from runtime.errors import BackendUnavailable

T = TypeVar("T")
# What the stores of each concern get from the database: its `read` or `write`.
Transaction = Callable[[Callable[[sqlite3.Cursor], T]], T]

BUSY_TIMEOUT = 10.0  # seconds SQLite itself waits for another connection's write lock
WRITE_ATTEMPTS = 3  # whole-transaction attempts when even the busy timeout ran out


class SqliteDatabase(SqliteStorage):
    """The file, its connection and its transactions; subclasses add tables to `ddl`."""

    _conn: sqlite3.Connection | None  # Huey's shared connection, opened lazily by `conn`

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.display_url = f"sqlite:///{self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = f"cannot create its folder {self.path.parent} ({exc.strerror})"
            raise self._unavailable(reason) from None
        try:
            # Huey's constructor connects, switches to WAL and runs `ddl`.
            super().__init__(name="runtime", filename=str(self.path), timeout=BUSY_TIMEOUT)
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from None

    def _create_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection = super()._create_connection()
        conn.execute("pragma synchronous = normal")  # see the module docstring
        return conn

    def _unavailable(self, reason: object, verb: str = "open") -> BackendUnavailable:
        text = str(reason).rstrip(".")
        return BackendUnavailable(f"cannot {verb} SQLite database {self.path}: {text}.")

    def _outage(self, exc: sqlite3.Error) -> BackendUnavailable:
        """Map a failure of the file itself to BackendUnavailable; called holding the lock."""
        if not is_busy(exc) and self._conn is not None:
            # The file may come back (disk remounted, file restored): reconnect next time.
            self._conn.close()
            self._conn = None
        return self._unavailable(exc, "use")

    def _write(self, work: Callable[[sqlite3.Cursor], T]) -> T:
        """Run `work` in one write transaction, retried whole when the file stays locked."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            with self.lock:
                try:
                    return self._transaction(work, "begin immediate")
                except sqlite3.Error as exc:
                    if not is_outage(exc):
                        raise
                    if not is_busy(exc) or attempt == WRITE_ATTEMPTS:
                        raise self._outage(exc) from None
            time.sleep(0.05 * attempt)  # outside the lock: let this process's readers run
        raise AssertionError("unreachable")

    def _read(self, work: Callable[[sqlite3.Cursor], T]) -> T:
        """Run `work` in one read transaction: a consistent snapshot, never a write lock."""
        with self.lock:
            try:
                return self._transaction(work, "begin")
            except sqlite3.Error as exc:
                if not is_outage(exc):
                    raise
                raise self._outage(exc) from None

    def _transaction(self, work: Callable[[sqlite3.Cursor], T], begin: str) -> T:
        conn: sqlite3.Connection = self.conn
        conn.execute(begin)
        try:
            cursor = conn.cursor()
            try:
                result = work(cursor)
            finally:
                cursor.close()
            conn.commit()
            return result
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise


def is_outage(exc: sqlite3.Error) -> bool:
    """Failures of the file or the lock, as opposed to bugs (IntegrityError, bad SQL)."""
    # `file is not a database` is a bare DatabaseError; its subclasses other than
    # OperationalError are programming errors and must surface as they are.
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError


def is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text
