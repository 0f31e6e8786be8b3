"""Alerts: rules over queue health, their lifecycle and their notifications.

The leading daemon calls `evaluate_and_store` every `[alerts] interval` seconds: every
rule (built-in and from plugins, `register_alert_rules`) returns the conditions that hold
now, one per queue or other subject; a new condition fires an alert, a cleared one
resolves it, and plugins hear of both (`alert_fired` / `alert_resolved`). An alert is
(rule, subject) while open: firing -> acknowledged (an operator saw it: it no longer
raises `runtime status`'s exit code) -> resolved (history, kept `history_days`). A
condition that comes back after its alert resolved is a new alert with a new id.

`runtime status` reads the stored alerts (`for_status`). When nobody has evaluated for
three intervals (no daemon is running) it evaluates the rules that need nothing but the
status rows on read, storing nothing, so a queue with work and no live worker still
shows as critical.

Built-in rules (thresholds in `[alerts]`; "above" means strictly greater):
- failed_jobs (warning): jobs failed in the last `failed_window_minutes` above
  `failed_threshold` (runtime.stats.recent_counts).
- waiting_high (warning): waiting jobs above `waiting_threshold`.
- oldest_waiting (warning): the job at the head of an unpaused queue (the next to be
  claimed: highest priority, then oldest) has waited more than `oldest_waiting_minutes`
  (since it was enqueued or became due). On Redis the waiting set is ordered by priority,
  so the head is the measure on both backends: one O(log n) read per queue.
- no_worker (critical): an unpaused queue has waiting jobs and no live worker.
- dead_letter_growth (warning): more than `dead_letter_growth` jobs entered the dead-letter
  set in the window and are still there (failed, stalled and poison messages alike).
- stalled_jobs (warning): jobs stalled in the window above `stalled_threshold`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime import stats
from runtime.backends.base.alerts import ALERT_FIELDS, OPEN_ALERT_STATES, AlertStore
from runtime.backends.base.storage import Backend, Overview
from runtime.config import AlertsSection, Config

if TYPE_CHECKING:
    from runtime.plugins import Plugins

log = logging.getLogger("runtime.alerts")

SEVERITIES = ("warning", "critical")
SEVERITY_EXIT = {"ok": 0, "warning": 1, "critical": 2}
# Without an evaluation for this many intervals, nobody is evaluating (no live leader).
MISSED_EVALUATIONS = 3


@dataclass(frozen=True)
class QueueHealth:
    """What the built-in rules know of one queue: its `runtime status` row, plus the
    reads only the evaluator makes (zero/None in an evaluation on read)."""

    name: str
    paused: bool
    waiting: int
    workers: int
    waiting_since: float | None = None  # Backend.oldest_waiting
    new_dead_letters: int = 0  # Backend.dead_letters_since, over the window
    recent: dict[str, int] = field(default_factory=dict)  # stats.recent_counts, the window


@dataclass(frozen=True)
class AlertContext:
    """What a rule evaluates: the backend (for a plugin's own reads), the `[alerts]`
    settings, the time of this evaluation and every queue's health."""

    backend: Backend
    settings: AlertsSection
    now: float
    queues: list[QueueHealth]


@dataclass(frozen=True)
class Condition:
    """A rule's finding: `subject` (a queue name, or whatever a plugin's rule watches) is
    in trouble, as `message` says in one sentence."""

    subject: str
    message: str


@dataclass(frozen=True)
class Rule:
    """An alert rule: `evaluate(context)` returns the conditions holding now (empty: all
    clear). `on_read`: it needs only the status rows, so `runtime status` can evaluate it
    when no daemon does."""

    name: str
    severity: str
    evaluate: Callable[[AlertContext], list[Condition]]
    on_read: bool = False


RegisterRule = Callable[[Rule], None]


# -- built-in rules: pure functions of the context ------------------------------------------
def failed_jobs(ctx: AlertContext) -> list[Condition]:
    limit, window = ctx.settings.failed_threshold, ctx.settings.failed_window_minutes
    return [
        Condition(
            q.name, f"queue {q.name}: {n} jobs failed in the last {window} min (over {limit})"
        )
        for q in ctx.queues
        if (n := q.recent.get("failed", 0)) > limit
    ]


def waiting_high(ctx: AlertContext) -> list[Condition]:
    limit = ctx.settings.waiting_threshold
    return [
        Condition(q.name, f"queue {q.name} has {q.waiting} waiting jobs (over {limit})")
        for q in ctx.queues
        if q.waiting > limit
    ]


def oldest_waiting(ctx: AlertContext) -> list[Condition]:
    limit = ctx.settings.oldest_waiting_minutes
    return [
        Condition(
            q.name,
            f"queue {q.name}: the next job to run has waited {age / 60:.0f} min (over {limit:g})",
        )
        for q in ctx.queues
        if q.waiting_since is not None
        and not q.paused
        and (age := ctx.now - q.waiting_since) > limit * 60
    ]


def no_worker(ctx: AlertContext) -> list[Condition]:
    return [
        Condition(q.name, f"queue {q.name} has {q.waiting} waiting jobs and no live worker")
        for q in ctx.queues
        if q.waiting and not q.workers and not q.paused
    ]


def dead_letter_growth(ctx: AlertContext) -> list[Condition]:
    limit, window = ctx.settings.dead_letter_growth, ctx.settings.failed_window_minutes
    return [
        Condition(
            q.name,
            f"queue {q.name}: {q.new_dead_letters} jobs entered the dead-letter set in the "
            f"last {window} min (over {limit})",
        )
        for q in ctx.queues
        if q.new_dead_letters > limit
    ]


def stalled_jobs(ctx: AlertContext) -> list[Condition]:
    limit, window = ctx.settings.stalled_threshold, ctx.settings.failed_window_minutes
    return [
        Condition(
            q.name, f"queue {q.name}: {n} jobs stalled in the last {window} min (over {limit})"
        )
        for q in ctx.queues
        if (n := q.recent.get("stalled", 0)) > limit
    ]


BUILTIN_RULES = (
    Rule("failed_jobs", "warning", failed_jobs),
    Rule("waiting_high", "warning", waiting_high, on_read=True),
    Rule("oldest_waiting", "warning", oldest_waiting),
    Rule("no_worker", "critical", no_worker, on_read=True),
    Rule("dead_letter_growth", "warning", dead_letter_growth),
    Rule("stalled_jobs", "warning", stalled_jobs),
)


# -- plugin rules ----------------------------------------------------------------------------
def plugin_rules(plugins: Plugins) -> list[Rule]:
    """Rules plugins register through `register_alert_rules`; a plugin whose hook raises
    (e.g. a rule `register` refuses) is logged and contributes nothing."""
    rules: list[Rule] = []
    taken = {rule.name for rule in BUILTIN_RULES}

    def register(rule: Rule) -> None:
        _check_rule(rule, taken)
        taken.add(rule.name)
        rules.append(rule)

    plugins.notify("register_alert_rules", register=register)
    return rules


def _check_rule(rule: Any, taken: set[str]) -> None:
    name = getattr(rule, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"an alert rule needs a non-empty name, got {name!r}")
    if name in taken:
        raise ValueError(f"alert rule '{name}' is already registered")
    if getattr(rule, "severity", None) not in SEVERITIES:
        raise ValueError(f"alert rule '{name}': severity must be 'warning' or 'critical'")
    if not callable(getattr(rule, "evaluate", None)):
        raise ValueError(f"alert rule '{name}': evaluate must be callable")


# -- evaluation ------------------------------------------------------------------------------
Found = dict[tuple[str, str], tuple[str, str]]  # (rule, subject) -> (severity, message)


def run_rules(rules: Iterable[Rule], ctx: AlertContext) -> tuple[Found, set[str]]:
    """Every condition the rules find, and the names of the rules that raised (their open
    alerts must stay as they are: nothing is known about them)."""
    found: Found = {}
    broken: set[str] = set()
    for rule in rules:
        try:
            conditions = list(rule.evaluate(ctx))
        except Exception:
            log.exception("alert rule %s failed to evaluate", rule.name)
            broken.add(rule.name)
            continue
        for condition in conditions:
            found[(rule.name, str(condition.subject))] = (rule.severity, str(condition.message))
    return found, broken


def gather(
    backend: Backend, settings: AlertsSection, rows: list[dict[str, Any]], now: float
) -> list[QueueHealth]:
    """Each queue's health: the status rows plus the evaluator's own reads."""
    names = [row["name"] for row in rows]
    window = settings.failed_window_minutes
    since = backend.oldest_waiting(names)
    dead = backend.dead_letters_since(names, now - window * 60)
    return [
        _health(
            row,
            waiting_since=since[row["name"]],
            new_dead_letters=dead[row["name"]],
            recent=stats.recent_counts(backend, row["name"], window),
        )
        for row in rows
    ]


def _health(row: dict[str, Any], **extra: Any) -> QueueHealth:
    return QueueHealth(row["name"], row["paused"], row["waiting"], row["workers"], **extra)


def evaluate_and_store(backend: Backend, config: Config, plugins: Plugins) -> list[dict[str, Any]]:
    """Evaluate every rule, fire and resolve alerts in the store, notify plugins, prune
    old history. Returns the alerts that changed (newly firing, newly resolved)."""
    from runtime.control import queue_rows  # control imports this module: import late

    now = time.time()
    settings = config.alerts
    rows = queue_rows(backend, config)
    ctx = AlertContext(backend, settings, now, gather(backend, settings, rows, now))
    found, broken = run_rules([*BUILTIN_RULES, *plugin_rules(plugins)], ctx)
    changes = apply(backend.alerts, found, broken, now)
    for alert in changes:
        hook = "alert_fired" if alert["state"] == "firing" else "alert_resolved"
        plugins.notify(hook, alert=alert)
    backend.alerts.prune(now - settings.history_days * 86400)
    backend.alerts.mark_evaluated(now)
    return changes


def apply(store: AlertStore, found: Found, broken: set[str], now: float) -> list[dict[str, Any]]:
    """Bring the store in line with `found`: fire the new, refresh the changed, resolve
    the cleared (except those of broken rules). Returns the fired and resolved rows."""
    open_alerts = {(a["rule"], a["queue"]): a for a in store.open_alerts()}
    changes: list[dict[str, Any]] = []
    for (rule, subject), (severity, message) in found.items():
        alert = open_alerts.get((rule, subject))
        if alert is None:
            fired = store.fire(rule, severity, subject, message, now)
            changes += [fired] if fired else []
        elif (alert["severity"], alert["message"]) != (severity, message):
            store.refresh(alert["id"], severity, message, now)
    for key, alert in open_alerts.items():
        if key not in found and alert["rule"] not in broken:
            before, after = store.transition(alert["id"], "resolved", None, now)
            if before in OPEN_ALERT_STATES and after is not None:  # not resolved meanwhile
                changes.append(after)
    return changes


# -- reading ---------------------------------------------------------------------------------
def evaluator_live(last_evaluated: float | None, config: Config, now: float) -> bool:
    """Whether a daemon evaluates the rules: it stored an evaluation (at `last_evaluated`)
    within the last MISSED_EVALUATIONS intervals."""
    if last_evaluated is None:
        return False
    return now - last_evaluated <= MISSED_EVALUATIONS * config.alerts.interval


def for_status(
    backend: Backend, config: Config, seen: Overview, queue_rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The open alerts `runtime status` shows, from what it read (`seen`). With an
    evaluator: as stored. Without: the `on_read` rules over `queue_rows`, evaluated now and
    not stored; a condition that matches a stored open alert shows as that alert (its id,
    state and since), the others with id None."""
    now = time.time()
    if evaluator_live(seen.alerts_evaluated, config, now):
        return seen.alerts
    ctx = AlertContext(backend, config.alerts, now, [_health(row) for row in queue_rows])
    found, _ = run_rules([rule for rule in BUILTIN_RULES if rule.on_read], ctx)
    by_key = {(a["rule"], a["queue"]): a for a in seen.alerts}
    return [
        {**by_key.get(key, _unsaved(key, now)), "severity": severity, "message": message}
        for key, (severity, message) in found.items()
    ]


def _unsaved(key: tuple[str, str], now: float) -> dict[str, Any]:
    rule, subject = key
    return {
        **dict.fromkeys(ALERT_FIELDS),
        "rule": rule,
        "queue": subject,
        "state": "firing",
        "since": now,
    }


def overall(alerts: list[dict[str, Any]]) -> str:
    """ok, warning or critical: the worst FIRING alert (acknowledged ones don't count)."""
    severities = {alert["severity"] for alert in alerts if alert["state"] == "firing"}
    return "critical" if "critical" in severities else "warning" if severities else "ok"
