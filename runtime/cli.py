"""The `runtime` command. Every subcommand takes `-c/--config PATH` after its name.

Errors go to stderr as one paragraph and map to the pinned exit codes: 2 bad input,
3 backend unreachable (`runtime status` also uses 1 warning and 2 critical).
"""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click

from runtime import control
from runtime.backends import OUTAGE_ERRORS, open_backend
from runtime.backends.base.events import EVENT_KEYS
from runtime.backends.base.storage import Backend
from runtime.config import Config, load_config
from runtime.durations import parse_duration
from runtime.errors import BackendUnavailable, BadInput, RuntimeJobError
from runtime.events import CONTROL, EVENT_TYPES
from runtime.plugins import load_plugins

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
        except OUTAGE_ERRORS as exc:  # a Redis connection lost after the first ping
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
    backend = open_backend(config.runtime.backend, config.base_dir)
    backend.ping()
    return backend


@click.group()
@click.version_option(package_name="runtime-jobs")
def cli() -> None:
    """Background jobs as plugins, on Huey 3 with Redis or embedded SQLite."""


@cli.command()
@config_option
@click.option("--queues", help="Comma-separated queues to run (default: all).")
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Serve Prometheus /metrics and /healthz on this port.",
)
@click.option("--metrics-host", default="127.0.0.1", show_default=True)
@friendly_errors
def start(
    config_path: str | None, queues: str | None, metrics_port: int | None, metrics_host: str
) -> None:
    """Run the daemon in the foreground; SIGTERM/SIGINT drain gracefully."""
    from runtime.daemon import start as start_daemon
    from runtime.logs import setup_logging

    config = load_config(config_path)
    setup_logging(config.runtime.log_format, config.runtime.log_level)
    only = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    address = (metrics_host, metrics_port) if metrics_port else None
    sys.exit(start_daemon(config, only, address))


@cli.command()
@click.argument("job_name", metavar="JOB")
@config_option
@click.option("--payload", default="{}", help="JSON object of keyword arguments.")
@click.option("--queue", help="Queue to use instead of the job's own.")
@click.option("--priority", type=int, help="Higher runs first.")
@click.option("--delay", type=float, help="Seconds to wait before it may run.")
@click.option(
    "--key",
    help="Idempotency key: one job per key while pending (plus [runtime] idempotency_window).",
)
@json_option
@friendly_errors
def enqueue(
    job_name: str,
    config_path: str | None,
    payload: str,
    queue: str | None,
    priority: int | None,
    delay: float | None,
    key: str | None,
    as_json: bool,
) -> None:
    """Queue a job and print its id."""
    from runtime.producer import Runtime

    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise BadInput(f"--payload is not valid JSON ({exc}).") from None
    config = load_config(config_path)
    runtime = Runtime(connect(config), config=config)
    result = runtime.submit(job_name, data, queue=queue, priority=priority, delay=delay, key=key)
    if as_json:
        record = runtime.job(result.id) or {}
        emit(
            {
                "id": result.id,
                "job": job_name,
                "queue": record.get("queue"),
                "state": record.get("state", result.state),
                "deduplicated": result.deduplicated,
            }
        )
    else:
        click.echo(result.id)


@cli.command()
@config_option
@json_option
@friendly_errors
def status(config_path: str | None, as_json: bool) -> None:
    """Queues, workers and alerts; exit 0 ok, 1 warning, 2 critical, 3 unreachable."""
    config = load_config(config_path)
    try:
        snapshot = control.status(connect(config), config)
    except BackendUnavailable as exc:
        if as_json:
            emit({"status": "unreachable", "error": str(exc)})
        raise
    if as_json:
        emit(snapshot)
    else:
        print_status(snapshot)
    sys.exit(control.status_exit_code(snapshot))


def print_status(snapshot: dict[str, Any]) -> None:
    click.echo(f"backend {snapshot['backend']}: {snapshot['status']}")
    header = (
        f"{'queue':<16}{'paused':>7}{'waiting':>9}{'delayed':>9}{'active':>8}"
        f"{'failed':>8}{'completed':>11}{'workers':>9}"
    )
    click.echo(header)
    for q in snapshot["queues"]:
        click.echo(
            f"{q['name']:<16}{'yes' if q['paused'] else 'no':>7}{q['waiting']:>9}"
            f"{q['delayed']:>9}{q['active']:>8}{q['failed']:>8}{q['completed']:>11}"
            f"{q['workers']:>9}"
        )
    for run in snapshot["cron"]:
        click.echo(f"cron {run['job']}: last fired {run['tick']} UTC by daemon {run['by']}")
    for alert in snapshot["alerts"]:
        acked = " (acknowledged)" if alert["state"] == "acknowledged" else ""
        click.echo(f"{alert['severity'].upper()}{acked}: {alert['message']}")


@cli.group()
def job() -> None:
    """Inspect jobs."""


@job.command("list")
@config_option
@click.option("--queue")
@click.option("--state")
@click.option("--job", "job_name", help="Only jobs of this name.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--cursor", help="Where the previous page stopped (its next_cursor).")
@json_option
@friendly_errors
def job_list(
    config_path: str | None,
    queue: str | None,
    state: str | None,
    job_name: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """Jobs, a page at a time: newest first, or in a state's order with --state."""
    backend = connect(load_config(config_path))
    page = control.list_jobs(backend, queue, state, job_name, limit, cursor)
    if as_json:
        emit(page)
        return
    for row in page["jobs"]:
        click.echo(f"{row['id']}  {row['state']:<10}{row['queue']:<12}{row['job']}")
    if page["next_cursor"] is not None:
        click.echo(f"more: --cursor {page['next_cursor']}")


@job.command("show")
@click.argument("job_id")
@config_option
@json_option
@friendly_errors
def job_show(job_id: str, config_path: str | None, as_json: bool) -> None:
    """One job's record."""
    record = control.show_job(connect(load_config(config_path)), job_id)
    if as_json:
        emit(record)
        return
    for name, value in record.items():
        click.echo(f"{name:<12}{json.dumps(value, default=str)}")


@job.command("retry")
@click.argument("job_id", required=False)
@config_option
@click.option("--all", "retry_every", is_flag=True, help="Every failed job (see --queue, --job).")
@click.option("--queue", help="With --all: only this queue.")
@click.option("--job", "job_name", help="With --all: only this job name.")
@json_option
@friendly_errors
def job_retry(
    job_id: str | None,
    config_path: str | None,
    retry_every: bool,
    queue: str | None,
    job_name: str | None,
    as_json: bool,
) -> None:
    """Put a failed or canceled job back in its queue (--all: every failed one)."""
    if bool(job_id) == retry_every:
        raise BadInput("give a job id, or --all (with --queue and/or --job), not both.")
    config = load_config(config_path)
    backend = connect(config)
    registry = load_plugins(config).registry
    if job_id:
        record = control.retry_job(backend, registry, job_id)
        say(as_json, record, f"{job_id} {record['state']}")
    else:
        count = control.retry_all(backend, registry, queue, job_name)
        say(as_json, {"retried": count}, f"retried {count} jobs")


@job.command("delete")
@click.argument("job_id")
@config_option
@json_option
@friendly_errors
def job_delete(job_id: str, config_path: str | None, as_json: bool) -> None:
    """Delete a job that is not running, whatever its state."""
    control.delete_job(connect(load_config(config_path)), job_id)
    say(as_json, {"id": job_id, "deleted": True}, f"{job_id} deleted")


@job.command("cancel")
@click.argument("job_id")
@config_option
@json_option
@friendly_errors
def job_cancel(job_id: str, config_path: str | None, as_json: bool) -> None:
    """Cancel a job; a running one is asked to stop (ctx.cancelled) and canceled when it does."""
    result = control.cancel_job(connect(load_config(config_path)), job_id)
    text = f"{job_id} cancel requested" if result["cancel_requested"] else f"{job_id} canceled"
    say(as_json, result, text)


@cli.group()
def queue() -> None:
    """Queue administration."""


@queue.command("pause")
@click.argument("queue_name", metavar="QUEUE")
@config_option
@json_option
@friendly_errors
def queue_pause(queue_name: str, config_path: str | None, as_json: bool) -> None:
    """Stop workers taking jobs from QUEUE (running jobs finish); survives restarts."""
    config = load_config(config_path)
    result = control.pause_queue(connect(config), config, queue_name)
    say(as_json, result, f"queue {queue_name} paused")


@queue.command("resume")
@click.argument("queue_name", metavar="QUEUE")
@config_option
@json_option
@friendly_errors
def queue_resume(queue_name: str, config_path: str | None, as_json: bool) -> None:
    """Let workers take jobs from a paused QUEUE again."""
    config = load_config(config_path)
    result = control.resume_queue(connect(config), config, queue_name)
    say(as_json, result, f"queue {queue_name} resumed")


@queue.command("clean")
@click.argument("queue_name", metavar="[QUEUE]", required=False)
@config_option
@click.option(
    "--state",
    type=click.Choice(["completed", "failed", "canceled"]),
    default="completed",
    show_default=True,
)
@click.option("--older-than", default="7d", show_default=True, help="e.g. 90s, 15m, 12h, 7d.")
@json_option
@friendly_errors
def queue_clean(
    queue_name: str | None, config_path: str | None, state: str, older_than: str, as_json: bool
) -> None:
    """Delete finished jobs older than a duration (every queue unless QUEUE is given)."""
    seconds = parse_duration(older_than)
    removed = control.clean(connect(load_config(config_path)), queue_name, state, seconds)
    say(as_json, {"removed": removed}, f"removed {removed} {state} jobs")


@queue.command("drain")
@click.argument("queue_name", metavar="QUEUE")
@config_option
@click.option("--timeout", default="5m", show_default=True, help="e.g. 90s, 15m, 1h.")
@json_option
@friendly_errors
def queue_drain(queue_name: str, config_path: str | None, timeout: str, as_json: bool) -> None:
    """Wait until QUEUE has no waiting, delayed or running job (exit 1 on time-out)."""
    config = load_config(config_path)
    seconds = parse_duration(timeout)
    drained = control.drain_queue(connect(config), config, queue_name, seconds)
    if as_json:
        emit({"queue": queue_name, "drained": drained})
    if not drained:
        fail(f"queue {queue_name} still had work after {timeout}.", 1)
    if not as_json:
        click.echo(f"queue {queue_name} is empty")


@queue.command("purge")
@click.argument("queue_name", metavar="QUEUE")
@config_option
@click.option("--yes-i-mean-it", "confirm", metavar="QUEUE", help="Repeat the queue's name.")
@json_option
@friendly_errors
def queue_purge(
    queue_name: str, config_path: str | None, confirm: str | None, as_json: bool
) -> None:
    """Delete every job of QUEUE except running ones (waiting, delayed, finished)."""
    config = load_config(config_path)
    removed = control.purge_queue(connect(config), config, queue_name, confirm)
    say(as_json, {"queue": queue_name, "removed": removed}, f"removed {removed} jobs")


@cli.group()
def alert() -> None:
    """Alerts: list, acknowledge, resolve."""


@alert.command("list")
@config_option
@click.option("--all", "include_resolved", is_flag=True, help="Resolved ones too (history).")
@click.option("--limit", type=int, default=100, show_default=True, help="With --all: resolved.")
@json_option
@friendly_errors
def alert_list(config_path: str | None, include_resolved: bool, limit: int, as_json: bool) -> None:
    """Firing and acknowledged alerts (--all: then the resolved ones, newest first)."""
    rows = control.list_alerts(connect(load_config(config_path)), include_resolved, limit)
    if as_json:
        emit(rows)
        return
    if not rows:
        click.echo("no open alerts" if not include_resolved else "no alerts")
    for row in rows:
        click.echo(
            f"{row['id']:>6}  {row['state']:<13}{row['severity']:<9}{row['rule']:<20}"
            f"{row['message']}"
        )


@alert.command("ack")
@click.argument("alert_id", metavar="ID")
@config_option
@json_option
@friendly_errors
def alert_ack(alert_id: str, config_path: str | None, as_json: bool) -> None:
    """Acknowledge a firing alert: still listed, no longer raises `runtime status`."""
    row = control.ack_alert(connect(load_config(config_path)), alert_id)
    say(as_json, row, f"alert {row['id']} {row['state']}")


@alert.command("resolve")
@click.argument("alert_id", metavar="ID")
@config_option
@json_option
@friendly_errors
def alert_resolve(alert_id: str, config_path: str | None, as_json: bool) -> None:
    """Resolve an alert by hand (it fires again, as a new alert, if its condition holds)."""
    config = load_config(config_path)
    row = control.resolve_alert(connect(config), load_plugins(config), alert_id)
    say(as_json, row, f"alert {row['id']} {row['state']}")


@cli.group()
def plugin() -> None:
    """List, install and uninstall plugins."""


@plugin.command("list")
@config_option
@json_option
@friendly_errors
def plugin_list(config_path: str | None, as_json: bool) -> None:
    """Plugins with their version, hooks, jobs and load error."""
    infos = [info.as_dict() for info in load_plugins(load_config(config_path)).infos]
    if as_json:
        emit(infos)
        return
    for info in infos:
        state = f"ERROR {info['error']}" if info["error"] else f"{len(info['jobs'])} jobs"
        click.echo(f"{info['name']:<20}{info['version'] or '-':<10}{state}")


@plugin.command("install")
@click.argument("packages", nargs=-1, required=True)
@config_option
@click.option("-e", "--editable", is_flag=True, help="Install a local path in editable mode.")
@friendly_errors
def plugin_install(packages: tuple[str, ...], config_path: str | None, editable: bool) -> None:
    """pip install into the runtime's own environment, then check the plugins load."""
    before = _plugin_names(config_path)
    args = ["-e", *packages] if editable else list(packages)
    _pip("install", *args)
    after = _plugin_infos(config_path)
    broken = [i for i in after if i["name"] not in before and i["error"]]
    for info in broken:
        click.echo(f"runtime: plugin '{info['name']}' failed to load: {info['error']}", err=True)
    if broken:
        sys.exit(BadInput.exit_code)
    added = sorted({i["name"] for i in after} - before)
    click.echo(f"installed; new plugins: {', '.join(added) or 'none'}")


@plugin.command("uninstall")
@click.argument("packages", nargs=-1, required=True)
@friendly_errors
def plugin_uninstall(packages: tuple[str, ...]) -> None:
    """pip uninstall from the runtime's own environment."""
    _pip("uninstall", "-y", *packages)


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args], check=False)
    if done.returncode != 0:
        raise BadInput(f"pip {args[0]} failed with exit code {done.returncode}.")


def _plugin_infos(config_path: str | None) -> list[dict[str, Any]]:
    """Plugins as a fresh interpreter sees them (this one cached the old metadata)."""
    cmd = [sys.executable, "-m", "runtime", "plugin", "list", "--json"]
    if config_path:
        cmd += ["-c", config_path]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BadInput(done.stderr.strip() or "could not list plugins.")
    infos: list[dict[str, Any]] = json.loads(done.stdout)
    return infos


def _plugin_names(config_path: str | None) -> set[str]:
    return {info["name"] for info in _plugin_infos(config_path)}


@cli.command()
@config_option
@click.option(
    "--seconds", type=float, default=20.0, show_default=True, help="How long to send demo traffic."
)
@click.option("--rate", type=float, default=10.0, show_default=True, help="Jobs per second.")
@friendly_errors
def demo(config_path: str | None, seconds: float, rate: float) -> None:
    """Start the daemon, send diagnostics jobs, show them flow, then drain and stop."""
    from runtime.demo import run_demo

    sys.exit(run_demo(load_config(config_path), config_path, seconds, rate))


@cli.command()
@config_option
@click.option("--jobs", type=int, default=300, show_default=True)
@json_option
@friendly_errors
def verify(config_path: str | None, jobs: int, as_json: bool) -> None:
    """Kill a worker mid-job on your backend and count what was lost (must be 0)."""
    from runtime.verify import run_verify

    config = load_config(config_path)
    connect(config)
    report = run_verify(config, config_path, jobs)
    if as_json:
        emit(report.as_dict())
    else:
        recovery = (
            f"interrupted jobs finished {report.recovery_seconds}s after the kill"
            if report.recovery_seconds is not None
            else "no job was running at the kill"
        )
        click.echo(
            f"{report.backend}: {report.jobs} jobs, worker {report.killed_pid} killed with "
            f"SIGKILL: lost {report.lost}, ran twice {report.ran_twice}; {recovery}"
        )
    sys.exit(0 if report.lost == 0 else 1)


FOLLOW_BLOCK = 1.0  # seconds one --follow read waits for new events
FOLLOW_BATCH = 500  # events one --follow read takes at most


@cli.command()
@config_option
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until Ctrl-C.")
@click.option("--queue", help="Only events of this queue.")
@click.option("--job-id", help="Only events of this job.")
@click.option("--type", "event_type", type=click.Choice(EVENT_TYPES), help="Only this type.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@json_option
@friendly_errors
def events(
    config_path: str | None,
    follow: bool,
    queue: str | None,
    job_id: str | None,
    event_type: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Print the newest lifecycle and control events, oldest first (--json: one object
    per line)."""
    backend = connect(load_config(config_path))
    filters: dict[str, Any] = {"queue": queue, "job_id": job_id, "event_type": event_type}
    if follow:  # before the first line: whoever reads it may stop us at once
        signal.signal(signal.SIGTERM, _interrupt)  # stop as Ctrl-C does: exit 0
    with contextlib.suppress(KeyboardInterrupt):
        shown, cursor = control.read_events(backend, limit=limit, **filters)
        print_events(shown, as_json)
        while follow:
            shown, cursor = control.read_events(
                backend, after=cursor, limit=FOLLOW_BATCH, block=FOLLOW_BLOCK, **filters
            )
            print_events(shown, as_json)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def print_events(shown: list[dict[str, Any]], as_json: bool) -> None:
    for event in shown:
        click.echo(json.dumps(event, default=str) if as_json else describe_event(event))


def describe_event(event: dict[str, Any]) -> str:
    """One readable line: time, type, queue, job, id, then the type's own keys."""
    when = datetime.fromtimestamp(event["ts"]).isoformat(sep=" ", timespec="milliseconds")
    core = [event["type"], event["queue"], event["job"], event["job_id"]]
    if event["type"] == CONTROL:
        core = [CONTROL, event["action"], "by", event["actor"], *core[1:]]
    rest = {k: v for k, v in event.items() if k not in (*EVENT_KEYS, "action", "actor")}
    extra = " ".join(f"{k}={json.dumps(v, default=str)}" for k, v in rest.items())
    return " ".join([when, *(str(part) for part in core if part is not None), extra]).rstrip()


@cli.command("stats")
@config_option
@click.option("--queue", help="Only this queue (default: every queue).")
@click.option("--job", "job_name", help="Only this job name.")
@json_option
@friendly_errors
def stats_command(
    config_path: str | None, queue: str | None, job_name: str | None, as_json: bool
) -> None:
    """Throughput, success rate, wait and run times: last hour, minutes, 30 days."""
    config = load_config(config_path)
    report = control.queue_stats(connect(config), config, queue, job_name)
    if as_json:
        emit(report)
    else:
        print_stats(report)


def print_stats(report: dict[str, Any]) -> None:
    hour, rate = report["last_hour"], report["success_rate"]
    scope = f"queue {report['queue'] or '(all)'}, job {report['job'] or '(all)'}"
    tput = report["throughput"]
    click.echo(
        f"{scope}: {tput['per_minute']}/min, {tput['per_hour']}/hour, {tput['per_day']}/day; "
        f"success {'-' if rate is None else f'{rate:.1%}'} (24 h)"
    )
    click.echo(
        f"last hour: wait p50 {_secs(hour['wait']['p50'])} p95 {_secs(hour['wait']['p95'])}, "
        f"run p50 {_secs(hour['run']['p50'])} p95 {_secs(hour['run']['p95'])}; "
        f"stalled {hour['stalled']}, recovered {hour['recovered']}"
    )
    click.echo(
        f"{'queue':<14}{'job':<32}{'done':>7}{'failed':>8}{'retried':>8}"
        f"{'wait p95':>10}{'run p95':>10}"
    )
    for row in report["jobs"]:
        click.echo(
            f"{row['queue']:<14}{row['job']:<32}{row['completed']:>7}{row['failed']:>8}"
            f"{row['retried']:>8}{_secs(row['wait']['p95']):>10}{_secs(row['run']['p95']):>10}"
        )
    busy = [day for day in report["days"] if day["completed"] or day["failed"]]
    for day in busy:
        click.echo(f"{day['day']}  completed {day['completed']:>8}  failed {day['failed']:>6}")


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}s"


@cli.command("metrics")
@config_option
@friendly_errors
def metrics_command(config_path: str | None) -> None:
    """Print the Prometheus text exposition (what `start --metrics-port` serves)."""
    from runtime.prometheus import exposition

    config = load_config(config_path)
    click.echo(exposition(connect(config), config), nl=False)


def main() -> None:
    cli(prog_name="runtime")
