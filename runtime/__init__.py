"""A plugin-based background-job runtime on Huey 3 with Redis and embedded SQLite backends.

App code enqueues through `Runtime`; plugins define jobs with `@job` and register them
from the `register_jobs` hook marked with `hookimpl`.

Everything but the errors is imported on first use: `import runtime` happens before every
CLI command, and a command such as `runtime status` needs neither Huey's task machinery
nor pydantic's job models (together over 100 ms of imports).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from runtime.errors import (
    BackendUnavailable,
    BadInput,
    ConfigError,
    InvalidPayload,
    PluginLoadError,
    RuntimeJobError,
    UnknownJob,
)

if TYPE_CHECKING:
    from runtime.hookspecs import hookimpl, hookspec
    from runtime.jobs import JobContext, JobRegistry, job
    from runtime.producer import Runtime

# The module each name is imported from when first used.
_LAZY = {
    "hookimpl": "runtime.hookspecs",
    "hookspec": "runtime.hookspecs",
    "JobContext": "runtime.jobs",
    "JobRegistry": "runtime.jobs",
    "job": "runtime.jobs",
    "Runtime": "runtime.producer",
}

__all__ = [
    "BackendUnavailable",
    "BadInput",
    "ConfigError",
    "InvalidPayload",
    "JobContext",
    "JobRegistry",
    "PluginLoadError",
    "Runtime",
    "RuntimeJobError",
    "UnknownJob",
    "hookimpl",
    "hookspec",
    "job",
]


def __getattr__(name: str) -> Any:
    """PEP 562: `runtime.job`, `runtime.Runtime`... import their module on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module 'runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value
