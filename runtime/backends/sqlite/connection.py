"""One SQLite database file shared by every local process: its connection, its schema
and the transactions every part of the SQLite backend uses.

Concurrency: each process (one per queue, plus the CLI and the dashboard) opens the file
with its own connection; inside a process one connection is shared by all threads
behind `self.lock`. WAL lets readers run while one writer writes; writers take the write
lock up front (`BEGIN IMMEDIATE`) so a transaction never has to upgrade a read lock, the
one case where SQLite reports "database is locked" without waiting. `synchronous=NORMAL`
with WAL survives `kill -9` of any process (only a power cut can lose the last commits,
like Redis without fsync) and makes a push several times cheaper than FULL.

The connection is opened as Huey's SqliteStorage opens it (the backend used to extend
that class; base/kv.py says why it no longer does): autocommit, WAL, an 8 MB page cache,
one connection per process shared by its threads.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, TypeVar

from runtime.errors import BackendUnavailable

T = TypeVar("T")
# What the stores of each concern get from the database: its `read` or `write`.
Transaction = Callable[[Callable[[sqlite3.Cursor], T]], T]

BUSY_TIMEOUT = 10.0  # seconds SQLite itself waits for another connection's write lock
WRITE_ATTEMPTS = 3  # whole-transaction attempts when even the busy timeout ran out
CACHE_KIB = 8000  # the page cache of each connection (Huey's default, 8 MB)


class SqliteDatabase:
    """The file, its connection and its transactions; subclasses list their tables in
    `ddl` and bring older files up to date in `migrate`."""

    ddl: ClassVar[list[str]] = []

    def __init__(self, path: Path, busy_timeout: float | None = None) -> None:
        self.path = Path(path)
        # A write waits this long for another process's lock, holding this process's
        # lock meanwhile: a daemon's workers pass less than their lease (io_timeout).
        self.busy_timeout = busy_timeout or BUSY_TIMEOUT
        self.display_url = f"sqlite:///{self.path}"
        self.lock = threading.Lock()  # one connection per process, its threads take turns
        self._conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = f"cannot create its folder {self.path.parent} ({exc.strerror})"
            raise self._unavailable(reason) from None
        try:
            self._initialize_schema()
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from None

    @property
    def conn(self) -> sqlite3.Connection:
        """This process's connection, opened on first use (and again after an outage)."""
        if self._conn is None:
            self._conn = self._create_connection()
        return self._conn

    def _create_connection(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, check_same_thread=False)
        conn.isolation_level = None  # autocommit: transactions are begun explicitly
        _set_wal(conn)
        conn.execute(f"pragma cache_size = {-CACHE_KIB}")
        conn.execute("pragma synchronous = normal")  # see the module docstring
        return conn

    def _initialize_schema(self) -> None:
        """Create what is missing and migrate, in one exclusive transaction; then close the
        connection, so that a process forked after the constructor opens its own."""
        with self.lock:
            try:
                self._transaction(self._create_tables, "begin exclusive")
            finally:
                self.close_connection()

    def _create_tables(self, cur: sqlite3.Cursor) -> None:
        for statement in self.ddl:
            cur.execute(statement)
        self.migrate(cur)

    def migrate(self, cur: sqlite3.Cursor) -> None:
        """Bring a file made by an older release up to date (its tables exist by now)."""

    def close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

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


def _set_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, waiting while another process holds the lock: switching a new file
    upgrades a read lock to a write lock, which fails at once under concurrency."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            conn.execute("pragma journal_mode = wal")
            return
        except sqlite3.OperationalError as exc:
            if "database is locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)
