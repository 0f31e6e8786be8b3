"""Commands that look: status, the event log, stats and the Prometheus exposition."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from datetime import datetime
from typing import Any

import click

from runtime import control
from runtime.backends.base.events import EVENT_KEYS
from runtime.cli.common import config_option, connect, emit, friendly_errors, json_option
from runtime.config import load_config
from runtime.errors import BackendUnavailable
from runtime.events import CONTROL, EVENT_TYPES


@click.command()
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


FOLLOW_BLOCK = 1.0  # seconds one --follow read waits for new events
FOLLOW_BATCH = 500  # events one --follow read takes at most


@click.command()
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


@click.command("stats")
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


@click.command("metrics")
@config_option
@friendly_errors
def metrics_command(config_path: str | None) -> None:
    """Print the Prometheus text exposition (what `start --metrics-port` serves)."""
    from runtime.prometheus import exposition

    config = load_config(config_path)
    click.echo(exposition(connect(config), config), nl=False)
