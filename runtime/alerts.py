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

The rules themselves, built-in and the types plugins write theirs with, are in
runtime.rules; the status rows and severities they share with the CLI in runtime.health.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime import stats
from runtime.backends.base.alerts import ALERT_FIELDS, OPEN_ALERT_STATES, AlertStore
from runtime.backends.base.storage import Backend, Overview
from runtime.config import AlertsSection, Config
from runtime.health import queue_rows
from runtime.rules import (
    BUILTIN_RULES,
    AlertContext,
    Found,
    QueueHealth,
    Rule,
    check_rule,
    run_rules,
)

if TYPE_CHECKING:
    from runtime.plugins import Plugins

# Without an evaluation for this many intervals, nobody is evaluating (no live leader).
MISSED_EVALUATIONS = 3


# -- plugin rules ----------------------------------------------------------------------------
def plugin_rules(plugins: Plugins) -> list[Rule]:
    """Rules plugins register through `register_alert_rules`; a plugin whose hook raises
    (e.g. a rule `register` refuses) is logged and contributes nothing."""
    rules: list[Rule] = []
    taken = {rule.name for rule in BUILTIN_RULES}

    def register(rule: Rule) -> None:
        check_rule(rule, taken)
        taken.add(rule.name)
        rules.append(rule)

    plugins.notify("register_alert_rules", register=register)
    return rules


# -- evaluation ------------------------------------------------------------------------------
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


def evaluate_and_store(
    backend: Backend, config: Config, plugins: Plugins, *, workers_settled: bool = True
) -> list[dict[str, Any]]:
    """Evaluate every rule, fire and resolve alerts in the store, notify plugins, prune
    old history. Returns the alerts that changed (newly firing, newly resolved).

    `workers_settled=False` (a daemon whose workers have not sent their first heartbeat
    yet) skips the rules that read live workers, leaving their open alerts as they are:
    a daemon started on a backlog must not call its own queues unserved."""
    now = backend.now()  # stored times (finish, enqueue, heartbeats) are on its clock
    settings = config.alerts
    rows = queue_rows(backend, config)
    ctx = AlertContext(backend, settings, now, gather(backend, settings, rows, now))
    rules = [*BUILTIN_RULES, *plugin_rules(plugins)]
    waiting = set() if workers_settled else {rule.name for rule in rules if rule.needs_workers}
    found, broken = run_rules([rule for rule in rules if rule.name not in waiting], ctx)
    changes = apply(backend.alerts, found, broken | waiting, now)
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
    backend: Backend, config: Config, seen: Overview, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The open alerts `runtime status` shows, from what it read (`seen`, and its status
    `rows`). With an evaluator: as stored. Without: the `on_read` rules over `rows`,
    evaluated now and
    not stored; a condition that matches a stored open alert shows as that alert (its id,
    state and since), the others with id None."""
    now = seen.now
    if evaluator_live(seen.alerts_evaluated, config, now):
        return seen.alerts
    ctx = AlertContext(backend, config.alerts, now, [_health(row) for row in rows])
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
