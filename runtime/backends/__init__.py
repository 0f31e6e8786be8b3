"""Backends by URL scheme: `redis://`, `rediss://` (Redis) and `sqlite:///path` (SQLite).

`open_backend` is the one door: callers get a `base.storage.Backend` and never import a
backend package themselves. Each backend package (`redis/`, `sqlite/`) is imported only
when a URL of its scheme is opened, so a command on one backend does not load the other's
client library.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

from runtime.backends.base.storage import Backend
from runtime.errors import BackendUnavailable, ConfigError


def outage_errors() -> tuple[type[Exception], ...]:
    """What a backend raises when it cannot be reached right now (as opposed to a bug):
    SQLite wraps its errors in BackendUnavailable; Redis calls raise redis-py's connection
    errors. Only once redis-py is imported can one have been raised, so until then it is
    not imported for this: an `except outage_errors()` costs nothing until an exception."""
    redis_py = sys.modules.get("redis")
    if redis_py is None:
        return (BackendUnavailable,)
    return (BackendUnavailable, redis_py.ConnectionError, redis_py.TimeoutError)


def open_backend(
    url: str, base_dir: Path | None = None, io_timeout: float | None = None
) -> Backend:
    """The backend for `url`. Relative SQLite paths resolve against `base_dir`.
    `io_timeout`: seconds one call may wait on the backend (Redis socket timeout, SQLite
    busy timeout) before it fails as an outage; None: the backend's default."""
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss", "unix"):
        from runtime.backends.redis.storage import RedisBackend

        return RedisBackend(url, io_timeout)
    if scheme == "sqlite":
        from runtime.backends.sqlite.storage import SqliteBackend

        return SqliteBackend(sqlite_path(url, base_dir), io_timeout)
    raise ConfigError(
        f"backend URL scheme '{scheme}' is not supported; use redis://, rediss:// or sqlite:///PATH."
    )


def sqlite_path(url: str, base_dir: Path | None) -> Path:
    """`sqlite:///var/x.db` is relative to the config's folder, `sqlite:////abs/x.db` absolute."""
    raw = url[len("sqlite:///") :]
    if not raw:
        raise ConfigError(f"backend URL '{url}' names no database file.")
    path = Path(raw)
    return path if path.is_absolute() else (base_dir or Path.cwd()) / path
