"""Every hook a plugin can implement. Plugins register through these only.

Mark implementations with `runtime.hookimpl`. Notification hooks (`runtime_startup`,
`runtime_shutdown`, `job_finished`, `alert_fired`, `alert_resolved`) are called for each
plugin in isolation: an exception in one is logged and does not reach the others or the job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from runtime.config import Config
    from runtime.jobs import JobRegistry
    from runtime.rules import RegisterRule

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


@hookspec
def register_alert_rules(register: RegisterRule) -> None:
    """Contribute alert rules: call `register(rule)` for each `runtime.rules.Rule(name,
    severity, evaluate)`, where `evaluate(context)` returns a list of
    `runtime.rules.Condition(subject, message)` (the subject is a queue name or any
    other thing the rule watches; an empty list: all clear). Called by the evaluating
    daemon before each evaluation. `register` raises ValueError for a rule without a
    name, with a name already taken or a severity other than warning/critical; a plugin
    that raises here is logged and keeps only the rules it registered before (the open
    alerts of a rule nobody registers resolve). A rule whose `evaluate` raises is logged
    and its open alerts stay as they are until it evaluates again."""


@hookspec
def alert_fired(alert: dict[str, Any]) -> None:
    """An alert started firing: `alert` is its row (`id, rule, severity, queue, state,
    message, since`, ...). Called once per alert, in the evaluating daemon, for each plugin
    in isolation (a failing plugin is logged; the others and the evaluation go on)."""


@hookspec
def alert_resolved(alert: dict[str, Any]) -> None:
    """An alert was resolved: its condition cleared, or an operator ran `runtime alert
    resolve ID` (then `resolved_by` names them). Called once per alert, for each plugin in
    isolation, like `alert_fired`."""
