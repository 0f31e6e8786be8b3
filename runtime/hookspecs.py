"""Every hook a plugin can implement. Plugins register through these only.

Mark implementations with `runtime.hookimpl`. Notification hooks (`runtime_startup`,
`runtime_shutdown`, `job_finished`) are called for each plugin in isolation: an
exception in one is logged and does not reach the others or the job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from runtime.config import Config
    from runtime.jobs import JobRegistry

hookspec = pluggy.HookspecMarker("runtime")
hookimpl = pluggy.HookimplMarker("runtime")


@hookspec
def register_jobs(registry: JobRegistry) -> None:
    """Register this plugin's jobs: call `registry.add(func)` for every function decorated
    with `@runtime.job`. Called once per process when plugins load (producer, worker, CLI).
    Raising here makes the plugin fail to load: `runtime start` refuses to run and
    `runtime plugin list` shows the error."""


@hookspec
def runtime_startup(config: Config, queue: str) -> None:
    """A worker process for `queue` is about to take jobs: open connections, warm caches.
    Called once per worker process, before the first job."""


@hookspec
def runtime_shutdown(config: Config, queue: str) -> None:
    """A worker process for `queue` has stopped taking jobs and is about to exit."""


@hookspec
def job_finished(
    job: str, job_id: str, queue: str, state: str, attempt: int, error: dict[str, Any] | None
) -> None:
    """A job attempt ended: `state` is `completed`, `retrying` or `failed`; `error` is
    `{type, message, traceback}` unless it completed. Called in the worker, after the
    outcome is recorded; a failing implementation is logged and ignored."""
