"""One SQLite database file shared by every local process: its connection, its schema
and the transactions every part of the SQLite backend uses.

Concurrency: each process (one per queue, plus the CLI and the dashboard) opens the file
with its own connection; inside a process one connection is shared by all threads
behind `self.lock`. WAL lets readers run while one writer writes; writers take the write
lock up front (`BEGIN IMMEDIATE`) so a transaction never has to upgrade a read lock, the
one case where SQLite reports "database is locked" without waiting. `synchronous=NORMAL`
with WAL survives `kill -9` of any process (only a power cut can lose the last commits,
like Redis without fsync) and makes a push several times cheaper than FULL.

Forks: SQLite forbids carrying an open connection into a forked child, and it is not
only the connection. The library keeps per-process state shared by every connection to
a file (the unix VFS's inode and WAL-index records: which of this process's connections
holds which lock) and global mutexes (its allocator's among them). Huey forks process
workers while the worker process's heartbeat and housekeeping threads use their own
connections; a child forked in the middle of one of their transactions inherited that
state frozen: it then waited for ever on a mutex its copy shows held (in
`sqlite3Malloc` or the WAL-index's) or got SQLITE_BUSY for ever from a write lock its
bookkeeping says a connection of its own holds, one no other thread in the child can
ever release (seen with py-spy; /proc/locks showed no process holding the lock).
So around every fork (`_before_fork`) each database of the process is quiesced: its
lock taken (no thread is inside SQLite) and its connection closed (the child inherits
no SQLite state for the file); both sides reopen on their next use.

The connection is opened as Huey's SqliteStorage opens it (the backend used to extend
that class; base/kv.py says why it no longer does): autocommit, WAL, an 8 MB page cache,
one connection per process shared by its threads.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
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
        _register(self)  # quiesced around every fork (_before_fork)
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


# Every database object of this process, for the fork hooks below. `_fork_guard` guards
# the set, and a forking thread holds it from before the fork to after it: one fork at
# a time quiesces the databases, and no constructor adds one meanwhile.
_databases: weakref.WeakSet[SqliteDatabase] = weakref.WeakSet()
_fork_guard = threading.Lock()
_quiesced: list[SqliteDatabase] = []  # the databases whose locks the forking thread holds


def _register(database: SqliteDatabase) -> None:
    with _fork_guard:
        _databases.add(database)


def _before_fork() -> None:
    """Take every database's lock and close its connection: the child must inherit
    neither a thread's transaction in progress nor an open connection (module docstring).
    A transaction under way finishes first (at worst after its busy waits). No thread
    holds one database's lock while waiting for another's, so taking them all is safe."""
    _fork_guard.acquire()
    for database in list(_databases):
        database.lock.acquire()
        _quiesced.append(database)  # only once acquired: the parent releases these
        try:
            database.close_connection()
        except sqlite3.Error:  # closing drops the object whatever SQLite says
            database._conn = None


def _after_fork_in_parent() -> None:
    """The parent's threads go on; each connection reopens on its next use."""
    for database in _quiesced:
        database.lock.release()
    _quiesced.clear()
    _fork_guard.release()


def _after_fork_in_child() -> None:
    """The child's copies of the locks are held (by the forking thread, now the child's
    only one): give it fresh ones. Its connections open on first use, its own."""
    global _fork_guard
    for database in _databases:
        database.lock = threading.Lock()
    _quiesced.clear()
    _fork_guard = threading.Lock()


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)


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
