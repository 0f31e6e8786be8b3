"""`runtime queue`: pause, resume, clean, drain, purge and forget a queue."""

from __future__ import annotations

import click

from runtime import control
from runtime.cli.common import config_option, connect, emit, fail, friendly_errors, json_option, say
from runtime.config import load_config
from runtime.durations import parse_duration


@click.group()
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


@queue.command("forget")
@click.argument("queue_name", metavar="QUEUE")
@config_option
@json_option
@friendly_errors
def queue_forget(queue_name: str, config_path: str | None, as_json: bool) -> None:
    """Drop an empty QUEUE that nobody configures from the known queues (status, clean)."""
    from runtime.plugins import load_plugins  # pluggy and every plugin's jobs: only here

    config = load_config(config_path)
    backend = connect(config)
    result = control.forget_queue(backend, config, queue_name, load_plugins(config).registry)
    say(as_json, result, f"queue {queue_name} forgotten")
