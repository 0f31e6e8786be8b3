"""Backends by URL scheme: `redis://`, `rediss://` (Redis) and `sqlite:///path` (SQLite)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import redis as redis_py

from runtime.backends.base.storage import Backend
from runtime.errors import BackendUnavailable, ConfigError

# What a backend raises when it cannot be reached right now (as opposed to a bug): SQLite
# wraps its errors in BackendUnavailable; Redis calls raise redis-py's connection errors.
OUTAGE_ERRORS = (BackendUnavailable, redis_py.ConnectionError, redis_py.TimeoutError)


def open_backend(url: str, base_dir: Path | None = None) -> Backend:
    """The backend for `url`. Relative SQLite paths resolve against `base_dir`."""
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss", "unix"):
        from runtime.backends.redis.storage import RedisBackend

        return RedisBackend(url)
    if scheme == "sqlite":
        from runtime.backends.sqlite.storage import SqliteBackend

        return SqliteBackend(sqlite_path(url, base_dir))
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
