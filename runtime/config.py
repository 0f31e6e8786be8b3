"""Configuration: `config.toml` parsed with tomllib and validated by msgspec.

Lookup order for the file: an explicit path (`-c PATH`), then `RUNTIME_CONFIG`, then
`./config.toml`. Environment overrides applied after the file:
`RUNTIME_BACKEND` (wins) or `REDIS_URL` replace `[runtime] backend`.
Unknown keys and wrong types are errors that name the file, the key and what was expected.

msgspec rather than pydantic (which validates job payloads, runtime.jobs): every command
loads the config, and importing pydantic costs more than twice the interpreter's own
start (about 85 ms against 35 ms here), where msgspec's import is a few milliseconds.
msgspec reports the first error of a value; load_config validates table by table (and
queue by queue) so that each message names the full key, and reports one per table.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from runtime.errors import ConfigError
from runtime.names import name_problem

DEFAULT_BACKEND = "sqlite:///var/runtime.db"
IO_TIMEOUT_FLOOR, IO_TIMEOUT_CEILING = 1.0, 10.0  # seconds: see RuntimeSection.io_timeout


class _Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A config table: unknown keys are errors; values keep the TOML type they were given
    (an integer where a string is expected is an error, not converted)."""


# The kinds of values the tables hold, with the bounds msgspec checks.
Positive = Annotated[float, msgspec.Meta(gt=0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Count = Annotated[int, msgspec.Meta(ge=0)]
AtLeastOne = Annotated[int, msgspec.Meta(ge=1)]
Workers = Annotated[int, msgspec.Meta(ge=1, le=256)]


class RuntimeSection(_Section):
    backend: str = DEFAULT_BACKEND
    lease_seconds: Positive = 15.0
    renew_interval: Positive = 5.0
    drain_timeout: NonNegative = 30.0
    heartbeat_interval: Positive = 5.0
    max_stalls: AtLeastOne = 3  # lease expiries before a job is dead-lettered
    # Seconds a canceled job on a process worker may take to stop before its process ends.
    cancel_grace: NonNegative = 10.0
    # Seconds a finished job keeps its idempotency key (0: the key is free once it finishes).
    idempotency_window: NonNegative = 0.0
    # A job's payload as JSON may be this large at most; a larger one is refused at enqueue.
    max_payload_bytes: AtLeastOne = 1024 * 1024
    log_format: Literal["auto", "text", "json"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    def heartbeat_ttl(self) -> float:
        """Seconds a heartbeat (a worker's, a daemon's, the leader's lease) counts as live:
        three missed intervals, so one late beat on a loaded host is not taken for death."""
        return 3 * self.heartbeat_interval

    def io_timeout(self) -> float:
        """Seconds one backend call of a daemon or worker may wait (Redis socket timeout,
        SQLite busy timeout) before it fails as an outage: a quarter of the lease, so that
        a renewal stuck on a silent backend gives up, and the next one is tried, while the
        lease still holds; at least IO_TIMEOUT_FLOOR (a loaded host must not turn every
        slow reply into an outage), at most IO_TIMEOUT_CEILING."""
        return min(max(self.lease_seconds / 4, IO_TIMEOUT_FLOOR), IO_TIMEOUT_CEILING)


class QueueSection(_Section):
    workers: Workers = 4
    worker_type: Literal["thread", "process"] = "thread"


class RetentionSection(_Section):
    """How long finished job records are kept, per queue (Sidekiq-like defaults)."""

    completed_max: Count = 1_000
    completed_days: NonNegative = 7.0
    failed_max: Count = 10_000
    failed_days: NonNegative = 180.0


class AlertsSection(_Section):
    """Alert rules, evaluated by the leading daemon every `interval` seconds (runtime.alerts)."""

    interval: Positive = 5.0
    failed_window_minutes: AtLeastOne = 10  # the window of the counted rules
    failed_threshold: Count = 10  # failed jobs in the window: warning above
    waiting_threshold: Count = 50  # waiting jobs: warning above
    oldest_waiting_minutes: Positive = 10.0  # next job to run waited longer
    dead_letter_growth: Count = 20  # new dead letters in the window, above
    stalled_threshold: Count = 0  # stalled jobs in the window (0: any)
    history_days: Positive = 30.0  # resolved alerts kept this long


class PluginsSection(_Section):
    modules: list[str] = msgspec.field(default_factory=list)
    disable: list[str] = msgspec.field(default_factory=list)
    autoload: bool = True


class DashboardSection(_Section):
    # binding id -> keys ("ctrl+r" or "R,ctrl+r"); the ids are the dashboard's (runtime
    # dashboard checks them, since this layer does not know the screens).
    keys: dict[str, str] = msgspec.field(default_factory=dict)


def _default_queues() -> dict[str, QueueSection]:
    return {"default": QueueSection()}


# The tables of a config file, and the type of each (`queues` holds one QueueSection per
# queue name).
SECTIONS: dict[str, type[_Section]] = {
    "runtime": RuntimeSection,
    "queues": QueueSection,
    "plugins": PluginsSection,
    "retention": RetentionSection,
    "alerts": AlertsSection,
    "dashboard": DashboardSection,
}


class Config(msgspec.Struct, kw_only=True, dict=True):
    """The whole configuration; `source` (set by load_config) is where it came from, so
    relative SQLite paths and plugin files resolve against its folder."""

    runtime: RuntimeSection = msgspec.field(default_factory=RuntimeSection)
    queues: dict[str, QueueSection] = msgspec.field(default_factory=_default_queues)
    plugins: PluginsSection = msgspec.field(default_factory=PluginsSection)
    retention: RetentionSection = msgspec.field(default_factory=RetentionSection)
    alerts: AlertsSection = msgspec.field(default_factory=AlertsSection)
    dashboard: DashboardSection = msgspec.field(default_factory=DashboardSection)

    def __post_init__(self) -> None:
        self.source: Path | None = None

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
    config = _validate(data, str(source) if source else "built-in defaults")
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


def _validate(data: dict[str, Any], where: str) -> Config:
    """The Config of `data`, or ConfigError listing a problem per table."""
    problems = [f"unknown key '{name}'" for name in data if name not in SECTIONS]
    tables: dict[str, Any] = {}
    for name, value in data.items():
        if name == "queues" and isinstance(value, dict):
            problems += filter(None, (name_problem("queue", queue) for queue in value))
            tables[name] = {
                queue: _section(entry, QueueSection, f"queues.{queue}", problems)
                for queue, entry in value.items()
            }
        elif name in SECTIONS:
            kind = dict[str, QueueSection] if name == "queues" else SECTIONS[name]
            tables[name] = _section(value, kind, name, problems)
    runtime = tables.get("runtime")
    if isinstance(runtime, RuntimeSection):
        problems += _lease_problems(runtime)
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems) + ".")
    return Config(**tables)


def _lease_problems(section: RuntimeSection) -> list[str]:
    """A lease must survive one failed renewal: renewing at most every half lease leaves
    a whole second attempt before it runs out."""
    if section.renew_interval <= section.lease_seconds / 2:
        return []
    return [
        f"key 'runtime.renew_interval' is invalid: {section.renew_interval:g} s is more than "
        f"half of lease_seconds ({section.lease_seconds:g} s), so one slow renewal would "
        "lose the lease"
    ]


def _section(value: Any, kind: Any, key: str, problems: list[str]) -> Any:
    """`value` converted to `kind`; on error, None and a problem naming `key` and the field."""
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        problems.append(_describe(str(exc), value, key))
        return None


# msgspec's messages: "Expected `int`, got `str` - at `$.workers`",
# "Object contains unknown field `x` - at `$`", "Expected `int` >= 1 - at `$.workers`".
_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`$")
_WRONG_TYPE = re.compile(r"^Expected `(?P<kind>\w+)`, got `\w+`$")
_NAMES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "array": "a list",
    "object": "a table",
}


def _describe(message: str, value: Any, key: str) -> str:
    """One problem, as `unknown key 'K'` or `key 'K' expected ..., got TYPE` or `key 'K' is
    invalid: ...`, K the full dotted key."""
    found = _AT.match(message)
    assert found is not None  # the pattern matches any text
    what, path = found["what"], found["path"] or ""
    parts = [part for part in re.split(r"\.|\[(\d+|\.\.\.)\]", path) if part]
    wrong = _WRONG_TYPE.match(what)
    if parts[-1:] == ["..."]:  # a table's value (msgspec does not say which): the first odd one
        table = _at(value, parts[:-1])
        kind = wrong["kind"] if wrong else ""
        parts[-1] = next((k for k, v in table.items() if type(v).__name__ != kind), "*")
    full = ".".join([key, *parts])
    if unknown := _UNKNOWN.match(what):
        return f"unknown key '{full}.{unknown['name']}'"
    if wrong and wrong["kind"] in _NAMES:
        got = type(_at(value, parts)).__name__
        return f"key '{full}' expected {_NAMES[wrong['kind']]}, got {got}"
    return f"key '{full}' is invalid: {what[0].lower()}{what[1:]}"


def _at(value: Any, parts: list[str]) -> Any:
    """The value at `parts` (field names and list indexes) inside `value`."""
    for part in parts:
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value
