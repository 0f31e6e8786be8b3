"""Alerts: every rule on both backends with real jobs, the lifecycle, history, plugin rules
and notifications, `runtime status` exit codes and the `runtime alert` commands."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import runtime
from runtime import alerts, control, rules
from runtime.backends.base.storage import Backend
from runtime.config import AlertsSection, Config, PluginsSection
from runtime.engine import RuntimeHuey
from runtime.errors import BadInput
from runtime.plugins import Plugins, load_plugins
from runtime.producer import Runtime
from runtime.rules import AlertContext, Condition, Rule
from tests.helpers import TEST_PLUGIN, Daemon, run_cli, wait_for, write_config

# Every threshold at its lowest, so one job makes each rule fire.
EAGER = {
    "failed_threshold": 0,
    "waiting_threshold": 0,
    "dead_letter_growth": 0,
    "stalled_threshold": 0,
}


@pytest.fixture
def config() -> Config:
    return Config(
        plugins=PluginsSection(modules=[str(TEST_PLUGIN)]),
        alerts=AlertsSection(**{**EAGER, "waiting_threshold": 1000}),
    )


@pytest.fixture
def rt(backend: Backend, config: Config) -> Runtime:
    return Runtime(backend, config=config)


@pytest.fixture
def plugins(config: Config) -> Plugins:
    return load_plugins(config)


def evaluate(rt: Runtime, plugins: Plugins) -> list[dict[str, Any]]:
    assert rt.config is not None
    return alerts.evaluate_and_store(rt.backend, rt.config, plugins)


def open_rules(rt: Runtime) -> dict[tuple[str, str], str]:
    """(rule, queue) -> state of every open alert."""
    return {(a["rule"], a["queue"]): a["state"] for a in rt.backend.alerts.open_alerts()}


def worker(rt: Runtime, max_stalls: int = 3) -> RuntimeHuey:
    return RuntimeHuey(
        "default",
        rt.backend,
        list(rt.registry),
        lease_seconds=15,
        claim_timeout=0,
        max_stalls=max_stalls,
    )


def run_jobs(rt: Runtime) -> None:
    """Run every claimable job once in-process, and write its metrics."""
    huey = worker(rt)
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
    huey.stats.flush()


def live_worker(rt: Runtime) -> None:
    rt.backend.put_worker("w1", {"queue": "default", "workers": 1}, ttl=60)


# -- rules, on both backends -----------------------------------------------------------------
def test_no_worker_is_critical_unless_paused_or_served(rt: Runtime, plugins: Plugins) -> None:
    rt.enqueue("diagnostics.echo", {})
    (fired,) = evaluate(rt, plugins)
    assert (fired["rule"], fired["severity"], fired["queue"]) == (
        "no_worker",
        "critical",
        "default",
    )
    assert fired["message"] == "queue default has 1 waiting jobs and no live worker"
    rt.backend.set_paused("default", True)
    (resolved,) = evaluate(rt, plugins)
    assert (resolved["id"], resolved["state"]) == (fired["id"], "resolved")
    rt.backend.set_paused("default", False)
    live_worker(rt)
    assert evaluate(rt, plugins) == [] and open_rules(rt) == {}


def test_waiting_above_threshold_warns(rt: Runtime, plugins: Plugins) -> None:
    assert rt.config is not None
    rt.config.alerts.waiting_threshold = 2
    live_worker(rt)
    rt.enqueue_many("diagnostics.echo", [{}, {}])
    assert evaluate(rt, plugins) == []  # 2 is not above 2
    rt.enqueue("diagnostics.echo", {})
    (fired,) = evaluate(rt, plugins)
    assert (fired["rule"], fired["severity"]) == ("waiting_high", "warning")
    assert fired["message"] == "queue default has 3 waiting jobs (over 2)"


def test_oldest_waiting_measures_the_head_of_the_queue(rt: Runtime, plugins: Plugins) -> None:
    assert rt.config is not None
    live_worker(rt)
    old = rt.enqueue("diagnostics.echo", {})
    urgent = rt.enqueue("diagnostics.echo", {}, priority=5)  # claimed first: the head
    since = rt.backend.oldest_waiting(["default", "nowhere"])
    assert since == {"default": (rt.job(urgent) or {})["enqueued_at"], "nowhere": None}
    assert since["default"] > (rt.job(old) or {})["enqueued_at"]
    assert evaluate(rt, plugins) == []  # 10 minutes by default
    rt.config.alerts.oldest_waiting_minutes = 0.0001  # 6 ms
    fired = wait_for(lambda: evaluate(rt, plugins), timeout=5, what="oldest_waiting")
    assert [(a["rule"], a["severity"]) for a in fired] == [("oldest_waiting", "warning")]
    assert fired[0]["message"].startswith("queue default: the next job to run has waited 0 min")


def test_a_delayed_job_waits_from_when_it_became_due(rt: Runtime) -> None:
    job_id = rt.enqueue("diagnostics.echo", {}, delay=0.05)
    wait_for(lambda: rt.backend.promote_due("default", time.time()), timeout=5, what="promote")
    record = rt.job(job_id) or {}
    assert rt.backend.oldest_waiting(["default"])["default"] == record["eta"]


def test_failed_jobs_in_the_window_warn(rt: Runtime, plugins: Plugins) -> None:
    live_worker(rt)
    rt.enqueue("diagnostics.fail", {"times": 9})
    run_jobs(rt)  # attempt 1 fails: retrying, counted as retried, not failed
    assert open_rules(rt) == {} and evaluate(rt, plugins) == []
    for _ in range(3):
        rt.backend.promote_due("default", time.time() + 3600)
        run_jobs(rt)
    fired = evaluate(rt, plugins)
    assert {a["rule"] for a in fired} == {"failed_jobs", "dead_letter_growth"}
    by_rule = {a["rule"]: a for a in fired}
    assert by_rule["failed_jobs"]["message"] == (
        "queue default: 1 jobs failed in the last 10 min (over 0)"
    )


def test_dead_letter_growth_counts_new_dead_letters_still_there(
    rt: Runtime, plugins: Plugins
) -> None:
    assert rt.config is not None
    rt.config.alerts.dead_letter_growth = 1
    live_worker(rt)
    first = rt.backend.bury("default", b"junk", "not JSON")
    assert evaluate(rt, plugins) == []  # 1 is not above 1
    rt.backend.bury("default", b"junk", "not JSON")
    since = time.time() - 60
    assert rt.backend.dead_letters_since(["default", "nowhere"], since) == {
        "default": 2,
        "nowhere": 0,
    }
    (fired,) = evaluate(rt, plugins)
    assert fired["rule"] == "dead_letter_growth"
    assert "2 jobs entered the dead-letter set in the last 10 min (over 1)" in fired["message"]
    assert rt.backend.requeue(first)  # retried out of the set: the growth is 1 again
    (resolved,) = evaluate(rt, plugins)
    assert (resolved["id"], resolved["state"]) == (fired["id"], "resolved")
    assert rt.backend.dead_letters_since(["default"], time.time() + 1) == {"default": 0}


def test_stalled_jobs_warn(rt: Runtime, plugins: Plugins) -> None:
    live_worker(rt)
    rt.enqueue("diagnostics.echo", {})
    assert rt.backend.claim("default", lease_seconds=0.01, timeout=0) is not None
    huey = worker(rt, max_stalls=1)
    wait_for(
        lambda: (
            huey.read_schedule() == [] and rt.backend.queue_counts(["default"])["default"]["failed"]
        ),
        timeout=5,
        what="the lease to expire",
    )
    huey.stats.flush()
    fired = evaluate(rt, plugins)
    assert {a["rule"] for a in fired} == {"stalled_jobs", "dead_letter_growth"}
    stalled = next(a for a in fired if a["rule"] == "stalled_jobs")
    assert stalled["message"] == "queue default: 1 jobs stalled in the last 10 min (over 0)"


def test_rules_are_pure_functions_of_the_context(backend: Backend) -> None:
    """The windowed rules, driven through their inputs (thresholds are strict: above)."""
    queue = rules.QueueHealth("q", False, 0, 1, recent={"failed": 3, "stalled": 2})
    ctx = AlertContext(backend, AlertsSection(failed_threshold=2, stalled_threshold=2), 0, [queue])
    assert [c.subject for c in rules.failed_jobs(ctx)] == ["q"]
    assert rules.stalled_jobs(ctx) == []


# -- lifecycle and history -------------------------------------------------------------------
def test_lifecycle_fire_ack_resolve_and_refire_as_a_new_alert(
    rt: Runtime, plugins: Plugins
) -> None:
    rt.enqueue("diagnostics.echo", {})
    (fired,) = evaluate(rt, plugins)
    assert evaluate(rt, plugins) == []  # still firing: no new alert, no notification
    acked = control.ack_alert(rt.backend, str(fired["id"]))
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"]
    assert control.ack_alert(rt.backend, str(fired["id"]))["state"] == "acknowledged"
    assert evaluate(rt, plugins) == [] and open_rules(rt) == {
        ("no_worker", "default"): "acknowledged"
    }
    live_worker(rt)
    (resolved,) = evaluate(rt, plugins)
    assert (resolved["id"], resolved["state"], resolved["resolved_by"]) == (
        fired["id"],
        "resolved",
        None,
    )
    rt.backend.remove_worker("w1")
    rt.enqueue("diagnostics.echo", {})
    (again,) = evaluate(rt, plugins)
    assert again["rule"] == "no_worker" and again["id"] > fired["id"]
    history = control.list_alerts(rt.backend, include_resolved=True)
    assert [(a["id"], a["state"]) for a in history] == [
        (again["id"], "firing"),
        (fired["id"], "resolved"),
    ]
    assert [a["id"] for a in control.list_alerts(rt.backend)] == [again["id"]]


def test_message_follows_the_condition_while_open(rt: Runtime, plugins: Plugins) -> None:
    rt.enqueue("diagnostics.echo", {})
    (fired,) = evaluate(rt, plugins)
    rt.enqueue("diagnostics.echo", {})
    assert evaluate(rt, plugins) == []
    (row,) = rt.backend.alerts.open_alerts()
    assert (row["id"], row["since"]) == (fired["id"], fired["since"])
    assert row["message"] == "queue default has 2 waiting jobs and no live worker"


def test_manual_resolve_and_ack_rules(rt: Runtime, plugins: Plugins) -> None:
    rt.enqueue("diagnostics.echo", {})
    (fired,) = evaluate(rt, plugins)
    resolved = control.resolve_alert(rt.backend, plugins, str(fired["id"]))
    assert resolved["state"] == "resolved" and resolved["resolved_by"]
    with pytest.raises(BadInput, match=f"alert {fired['id']} is already resolved."):
        control.resolve_alert(rt.backend, plugins, str(fired["id"]))
    with pytest.raises(BadInput, match=f"alert {fired['id']} is resolved; only a firing"):
        control.ack_alert(rt.backend, str(fired["id"]))
    for bad in ("999", "x1"):
        with pytest.raises(BadInput, match=f"no alert with id '{bad}'."):
            control.ack_alert(rt.backend, bad)
    (again,) = evaluate(rt, plugins)  # the condition still holds: a new alert
    assert again["id"] != fired["id"]
    actions = [e.get("action") for e in rt.backend.events.read(limit=100)]
    assert actions.count("alert.resolve") == 1 and "alert.ack" not in actions


def test_history_is_pruned_after_history_days(rt: Runtime, plugins: Plugins) -> None:
    assert rt.config is not None
    rt.enqueue("diagnostics.echo", {})
    (fired,) = evaluate(rt, plugins)
    live_worker(rt)
    evaluate(rt, plugins)
    store = rt.backend.alerts
    assert [a["id"] for a in store.history(10)] == [fired["id"]]
    assert store.prune(resolved_before=fired["since"]) == 0
    rt.config.alerts.history_days = 1e-6  # 86 ms
    wait_for(lambda: evaluate(rt, plugins) == [] and not store.history(10), timeout=5)
    assert store.get(fired["id"]) is None


# -- plugin rules and notifications ----------------------------------------------------------
class CircuitPlugin:
    """A plugin with one rule, open while `self.open` is true, and notification hooks."""

    def __init__(self) -> None:
        self.open = True
        self.heard: list[tuple[str, int]] = []

    def evaluate(self, ctx: AlertContext) -> list[Condition]:
        return [Condition("openai", "circuit open: 5 errors in a row")] if self.open else []

    @runtime.hookimpl
    def register_alert_rules(self, register: rules.RegisterRule) -> None:
        register(Rule("test.circuit", "critical", self.evaluate))

    @runtime.hookimpl
    def alert_fired(self, alert: dict[str, Any]) -> None:
        self.heard.append(("fired", alert["id"]))

    @runtime.hookimpl
    def alert_resolved(self, alert: dict[str, Any]) -> None:
        self.heard.append(("resolved", alert["id"]))


class BrokenPlugin:
    """Raises in every hook: the others must still run."""

    @runtime.hookimpl
    def register_alert_rules(self, register: rules.RegisterRule) -> None:
        register(Rule("test.bad", "info", lambda ctx: []))  # refused: not a severity

    @runtime.hookimpl
    def alert_fired(self, alert: dict[str, Any]) -> None:
        raise RuntimeError("pager down")


def test_plugin_rule_fires_and_resolves_once_each_despite_a_broken_plugin(
    rt: Runtime, plugins: Plugins
) -> None:
    live_worker(rt)
    circuit = CircuitPlugin()
    plugins.pm.register(BrokenPlugin(), name="broken")  # first: called last by pluggy
    plugins.pm.register(circuit, name="circuit")
    try:
        (fired,) = evaluate(rt, plugins)
        assert (fired["rule"], fired["severity"], fired["queue"]) == (
            "test.circuit",
            "critical",
            "openai",
        )
        assert evaluate(rt, plugins) == []
        circuit.open = False
        evaluate(rt, plugins)
        assert circuit.heard == [("fired", fired["id"]), ("resolved", fired["id"])]
    finally:
        plugins.pm.unregister(name="circuit")
        plugins.pm.unregister(name="broken")


def test_a_rule_that_raises_keeps_its_alerts_open(rt: Runtime, plugins: Plugins) -> None:
    live_worker(rt)
    circuit = CircuitPlugin()
    plugins.pm.register(circuit, name="circuit")
    try:
        (fired,) = evaluate(rt, plugins)
        circuit.evaluate = lambda ctx: 1 / 0  # type: ignore[method-assign]
        assert evaluate(rt, plugins) == []
        assert open_rules(rt) == {("test.circuit", "openai"): "firing"}
    finally:
        plugins.pm.unregister(name="circuit")
    (resolved,) = evaluate(rt, plugins)  # its rule is gone: the alert resolves
    assert resolved["id"] == fired["id"]


# -- runtime status ---------------------------------------------------------------------------
def test_status_exit_code_follows_firing_alerts_only(rt: Runtime, plugins: Plugins) -> None:
    assert rt.config is not None
    config = rt.config
    config.alerts.waiting_threshold = 0
    live_worker(rt)
    rt.enqueue("diagnostics.echo", {})
    evaluate(rt, plugins)
    snapshot = control.status(rt.backend, config)
    assert [a["rule"] for a in snapshot["alerts"]] == ["waiting_high"]
    assert control.status_exit_code(snapshot) == 1
    control.ack_alert(rt.backend, str(snapshot["alerts"][0]["id"]))
    snapshot = control.status(rt.backend, config)
    assert snapshot["alerts"][0]["state"] == "acknowledged"
    assert control.status_exit_code(snapshot) == 0
    circuit = CircuitPlugin()
    plugins.pm.register(circuit, name="circuit")
    try:
        evaluate(rt, plugins)
    finally:
        plugins.pm.unregister(name="circuit")
    assert control.status_exit_code(control.status(rt.backend, config)) == 2


def test_status_evaluates_on_read_when_nobody_evaluates(rt: Runtime, plugins: Plugins) -> None:
    assert rt.config is not None
    rt.enqueue("diagnostics.echo", {})
    (row,) = control.status(rt.backend, rt.config)["alerts"]  # never evaluated: on read
    assert (row["id"], row["rule"], row["state"]) == (None, "no_worker", "firing")
    assert rt.backend.alerts.open_alerts() == []  # nothing stored
    (fired,) = evaluate(rt, plugins)
    control.ack_alert(rt.backend, str(fired["id"]))
    rt.config.alerts.interval = 0.01  # the evaluation goes stale at once: on read again
    store = rt.backend.alerts
    wait_for(lambda: not alerts.evaluator_live(store.last_evaluated(), rt.config, time.time()))
    snapshot = control.status(rt.backend, rt.config)
    (row,) = snapshot["alerts"]
    assert (row["id"], row["state"]) == (fired["id"], "acknowledged")  # stored state kept
    assert control.status_exit_code(snapshot) == 0


# -- the CLI -----------------------------------------------------------------------------------
def test_cli_alert_list_ack_resolve(
    tmp_path: Path, backend_url: str, rt: Runtime, plugins: Plugins
) -> None:
    config = str(write_config(tmp_path, backend_url))
    rt.enqueue("diagnostics.echo", {})
    (fired,) = evaluate(rt, plugins)
    listed = run_cli("alert", "list", "--json", "-c", config)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert {"id", "rule", "severity", "queue", "state", "message", "since"} <= set(row)
    assert (row["id"], row["state"]) == (fired["id"], "firing")
    acked = run_cli("alert", "ack", str(fired["id"]), "-c", config)
    assert (acked.returncode, acked.stdout.strip()) == (0, f"alert {fired['id']} acknowledged")
    resolved = run_cli("alert", "resolve", str(fired["id"]), "--json", "-c", config)
    assert json.loads(resolved.stdout)["state"] == "resolved"
    assert json.loads(run_cli("alert", "list", "--json", "-c", config).stdout) == []
    every = json.loads(run_cli("alert", "list", "--all", "--json", "-c", config).stdout)
    assert [(a["id"], a["state"]) for a in every] == [(fired["id"], "resolved")]
    unknown = run_cli("alert", "ack", "4242", "-c", config)
    assert (unknown.returncode, unknown.stderr) == (2, "runtime: no alert with id '4242'.\n")
    actions = [e.get("action") for e in rt.backend.events.read(limit=100)]
    assert actions.count("alert.ack") == 1 and actions.count("alert.resolve") == 1


@pytest.mark.slow
def test_a_daemon_started_on_a_backlog_raises_no_false_no_worker_alert(
    tmp_path: Path, backend_url: str
) -> None:
    """Its first evaluation comes before its workers' first heartbeat: the rules that read
    live workers wait for those heartbeats (issue 9, item 11), and then still see the
    queue nobody serves (`other`, which this daemon does not run)."""
    extra = "\n[alerts]\ninterval = 0.2\nwaiting_threshold = 1000\n\n[queues.other]\n"
    config = write_config(tmp_path, backend_url, extra=extra, workers=2)
    rt = Runtime.from_config(config)
    rt.enqueue_many("diagnostics.sleep", [{"seconds": 0.05}] * 40)
    rt.enqueue("diagnostics.echo", {}, queue="other")

    def unserved() -> set[str]:
        return {a["queue"] for a in rt.backend.alerts.open_alerts() if a["rule"] == "no_worker"}

    with Daemon(config, "--queues", "default") as daemon:
        wait_for(lambda: rt.backend.queue_counts(["default"])["default"]["completed"] == 40)
        assert wait_for(lambda: unserved() == {"other"}, what="the no_worker alert of other")
        fired = rt.backend.alerts.open_alerts() + rt.backend.alerts.history(100)
        assert [a["queue"] for a in fired if a["rule"] == "no_worker"] == ["other"], daemon.output()
