"""Configuration: `config.toml` parsed with tomllib and validated by pydantic.

Lookup order for the file: an explicit path (`-c PATH`), then `RUNTIME_CONFIG`, then
`./config.toml`. Environment overrides applied after the file:
`RUNTIME_BACKEND` (wins) or `REDIS_URL` replace `[runtime] backend`.
Unknown keys and wrong types are errors that name the file, the key and what was expected.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runtime.errors import ConfigError

DEFAULT_BACKEND = "sqlite:///var/runtime.db"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RuntimeSection(_Strict):
    backend: str = DEFAULT_BACKEND
    lease_seconds: float = Field(default=15.0, gt=0)
    renew_interval: float = Field(default=5.0, gt=0)
    drain_timeout: float = Field(default=30.0, ge=0)
    heartbeat_interval: float = Field(default=5.0, gt=0)
    max_stalls: int = Field(default=3, ge=1)  # lease expiries before a job is dead-lettered
    # Seconds a canceled job on a process worker may take to stop before its process ends.
    cancel_grace: float = Field(default=10.0, ge=0)
    # Seconds a finished job keeps its idempotency key (0: the key is free once it finishes).
    idempotency_window: float = Field(default=0, ge=0)
    log_format: Literal["auto", "text", "json"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class QueueSection(_Strict):
    workers: int = Field(default=4, ge=1, le=256)
    worker_type: Literal["thread", "process"] = "thread"


class RetentionSection(_Strict):
    """How long finished job records are kept, per queue (Sidekiq-like defaults)."""

    completed_max: int = Field(default=1_000, ge=0)
    completed_days: float = Field(default=7, ge=0)
    failed_max: int = Field(default=10_000, ge=0)
    failed_days: float = Field(default=180, ge=0)


class AlertsSection(_Strict):
    """Alert rules, evaluated by the leading daemon every `interval` seconds (runtime.alerts)."""

    interval: float = Field(default=5.0, gt=0)
    failed_window_minutes: int = Field(default=10, ge=1)  # the window of the counted rules
    failed_threshold: int = Field(default=10, ge=0)  # failed jobs in the window: warning above
    waiting_threshold: int = Field(default=50, ge=0)  # waiting jobs: warning above
    oldest_waiting_minutes: float = Field(default=10, gt=0)  # next job to run waited longer
    dead_letter_growth: int = Field(default=20, ge=0)  # new dead letters in the window, above
    stalled_threshold: int = Field(default=0, ge=0)  # stalled jobs in the window (0: any)
    history_days: float = Field(default=30, gt=0)  # resolved alerts kept this long


class PluginsSection(_Strict):
    modules: list[str] = Field(default_factory=list)
    disable: list[str] = Field(default_factory=list)
    autoload: bool = True


class Config(_Strict):
    runtime: RuntimeSection = Field(default_factory=RuntimeSection)
    queues: dict[str, QueueSection] = Field(default_factory=lambda: {"default": QueueSection()})
    plugins: PluginsSection = Field(default_factory=PluginsSection)
    retention: RetentionSection = Field(default_factory=RetentionSection)
    alerts: AlertsSection = Field(default_factory=AlertsSection)
    # Where the config came from; relative SQLite paths and plugin files resolve against it.
    source: Path | None = Field(default=None, exclude=True)

    @property
    def base_dir(self) -> Path:
        return self.source.parent if self.source else Path.cwd()

    def queue(self, name: str) -> QueueSection:
        return self.queues.get(name) or QueueSection()


def resolve_config_path(path: str | os.PathLike[str] | None) -> Path | None:
    """The file to read, or None when no file is named and ./config.toml is absent."""
    if path:
        return Path(path)
    env = os.environ.get("RUNTIME_CONFIG")
    if env:
        return Path(env)
    default = Path("config.toml")
    return default if default.exists() else None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read, validate and apply env overrides. Raises ConfigError with one clear sentence."""
    source = resolve_config_path(path)
    data: dict[str, object] = {}
    if source is not None:
        data = _read_toml(source)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
    config.source = source.resolve() if source else None
    backend = os.environ.get("RUNTIME_BACKEND") or os.environ.get("REDIS_URL")
    if backend:
        config.runtime.backend = backend
    return config


def _read_toml(source: Path) -> dict[str, object]:
    try:
        with source.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{source}: configuration file not found.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc}).") from None


def _describe(exc: ValidationError, source: Path | None) -> str:
    where = str(source) if source else "built-in defaults"
    problems = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"])
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown key '{key}'")
        else:
            problems.append(f"key '{key}' {_expected(err)}")
    return f"{where}: " + "; ".join(problems) + "."


def _expected(err: object) -> str:
    assert isinstance(err, dict)
    kind = err["type"]
    got = type(err.get("input")).__name__
    names = {
        "string_type": "a string",
        "int_type": "an integer",
        "float_type": "a number",
        "bool_type": "true or false",
        "list_type": "a list",
        "dict_type": "a table",
        "model_type": "a table",
    }
    if kind in names:
        return f"expected {names[kind]}, got {got}"
    return f"is invalid: {err['msg']}"
