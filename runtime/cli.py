"""The `runtime` command. Every subcommand takes `-c/--config PATH` after its name.

Errors go to stderr as one paragraph and map to the pinned exit codes: 2 bad input,
3 backend unreachable (`runtime status` also uses 1 warning and 2 critical).
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from runtime import control
from runtime.backends import OUTAGE_ERRORS, open_backend
from runtime.backends.base import Backend
from runtime.config import Config, load_config
from runtime.durations import parse_duration
from runtime.errors import BackendUnavailable, BadInput, RuntimeJobError
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
@friendly_errors
def start(config_path: str | None, queues: str | None) -> None:
    """Run the daemon in the foreground; SIGTERM/SIGINT drain gracefully."""
    from runtime.daemon import start as start_daemon
    from runtime.logs import setup_logging

    config = load_config(config_path)
    setup_logging(config.runtime.log_format, config.runtime.log_level)
    only = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    sys.exit(start_daemon(config, only))


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
        click.echo(f"{alert['severity'].upper()}: {alert['message']}")


@cli.group()
def job() -> None:
    """Inspect jobs."""


@job.command("list")
@config_option
@click.option("--queue")
@click.option("--state")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@friendly_errors
def job_list(
    config_path: str | None, queue: str | None, state: str | None, limit: int, as_json: bool
) -> None:
    """Jobs, newest first."""
    rows = control.list_jobs(connect(load_config(config_path)), queue, state, limit)
    if as_json:
        emit({"jobs": rows, "next_cursor": None})
        return
    for row in rows:
        click.echo(f"{row['id']}  {row['state']:<10}{row['queue']:<12}{row['job']}")


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


@cli.group()
def queue() -> None:
    """Queue administration."""


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


def main() -> None:
    cli(prog_name="runtime")
