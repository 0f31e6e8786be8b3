"""What every command shares: the -c and --json options, turning errors into one sentence
and the pinned exit code, printing, and connecting to the configured backend."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from runtime import control
from runtime.backends import outage_errors
from runtime.backends.base.storage import Backend
from runtime.config import Config
from runtime.errors import BackendUnavailable, RuntimeJobError

F = TypeVar("F", bound=Callable[..., Any])


def config_option(func: F) -> F:
    return click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="Config file (default: $RUNTIME_CONFIG, ./config.toml).",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


def friendly_errors(func: F) -> F:
    """Turn runtime errors into one sentence on stderr and the pinned exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RuntimeJobError as exc:
            fail(str(exc), exc.exit_code)
        except outage_errors() as exc:  # a Redis connection lost after the first ping
            fail(
                f"the backend is unreachable: {str(exc).rstrip('.')}.", BackendUnavailable.exit_code
            )

    return wrapper  # type: ignore[return-value]


def fail(message: str, code: int) -> None:
    click.echo(f"runtime: {message}", err=True)
    sys.exit(code)


def emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def say(as_json: bool, data: Any, text: str) -> None:
    """Print `data` as JSON with --json, else the one-line `text`."""
    if as_json:
        emit(data)
    else:
        click.echo(text)


def connect(config: Config) -> Backend:
    return control.connect(config)
