"""`runtime job`: list, show, retry, delete and cancel jobs."""

from __future__ import annotations

import json

import click

from runtime import control
from runtime.cli.common import config_option, connect, emit, friendly_errors, json_option, say
from runtime.config import load_config
from runtime.errors import BadInput


@click.group()
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
    from runtime.plugins import load_plugins  # pluggy and every plugin's jobs: only here

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
