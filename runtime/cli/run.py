"""Commands that run things: the daemon, one enqueue, the demo and the kill test.

Each imports what it runs when it runs: the daemon brings Huey's consumer, Prometheus
and psutil, the producer pydantic's job models."""

from __future__ import annotations

import json
import sys

import click

from runtime.cli.common import config_option, connect, emit, friendly_errors, json_option
from runtime.config import load_config
from runtime.errors import BadInput


@click.command()
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


@click.command()
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


@click.command()
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


@click.command()
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
