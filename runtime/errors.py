"""Errors the runtime raises to callers, each carrying the CLI exit code it maps to.

DESIGN pins the codes: 2 for bad input (unknown job, invalid payload, bad config),
3 for an unreachable backend. Every message is one sentence a user can act on.
"""

from __future__ import annotations


class RuntimeJobError(Exception):
    """Base class: `str(err)` is the sentence shown to the user."""

    exit_code = 1


class BadInput(RuntimeJobError):
    """The caller asked for something invalid; nothing was changed."""

    exit_code = 2


class ConfigError(BadInput):
    """The configuration file or an environment override is invalid."""


class UnknownJob(BadInput):
    """No registered job has that name."""


class InvalidPayload(BadInput):
    """The payload does not match the job's signature."""


class PluginLoadError(BadInput):
    """A plugin failed to import or to register its jobs."""


class BackendUnavailable(RuntimeJobError):
    """The backend (Redis server or SQLite file) cannot be reached."""

    exit_code = 3
