"""Alert rules: what a rule is, the built-in ones, and running a set of them.

A rule is a name, a severity and a pure function of an `AlertContext` (every queue's
health, the `[alerts]` settings, the time) returning the conditions that hold now. Plugins
contribute rules through the `register_alert_rules` hook with these same types;
runtime.alerts evaluates them, stores the alerts they raise and notifies plugins.

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from runtime.backends.base.storage import Backend
from runtime.config import AlertsSection

log = logging.getLogger("runtime.alerts")

SEVERITIES = ("warning", "critical")


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
    when no daemon does. `needs_workers`: it reads live workers, so a daemon that has just
    started skips it until its own workers' first heartbeats are in (see Steward)."""

    name: str
    severity: str
    evaluate: Callable[[AlertContext], list[Condition]]
    on_read: bool = False
    needs_workers: bool = False


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
    Rule("no_worker", "critical", no_worker, on_read=True, needs_workers=True),
    Rule("dead_letter_growth", "warning", dead_letter_growth),
    Rule("stalled_jobs", "warning", stalled_jobs),
)


def check_rule(rule: Any, taken: set[str]) -> None:
    name = getattr(rule, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"an alert rule needs a non-empty name, got {name!r}")
    if name in taken:
        raise ValueError(f"alert rule '{name}' is already registered")
    if getattr(rule, "severity", None) not in SEVERITIES:
        raise ValueError(f"alert rule '{name}': severity must be 'warning' or 'critical'")
    if not callable(getattr(rule, "evaluate", None)):
        raise ValueError(f"alert rule '{name}': evaluate must be callable")


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
