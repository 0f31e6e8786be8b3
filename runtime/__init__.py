"""A plugin-based background-job runtime on Huey 3 with Redis and embedded SQLite backends.

App code enqueues through `Runtime`; plugins define jobs with `@job` and register them
from the `register_jobs` hook marked with `hookimpl`.
"""

from runtime.errors import (
    BackendUnavailable,
    BadInput,
    ConfigError,
    InvalidPayload,
    PluginLoadError,
    RuntimeJobError,
    UnknownJob,
)
from runtime.hookspecs import hookimpl, hookspec
from runtime.jobs import JobContext, JobRegistry, job
from runtime.producer import Runtime

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
