"""The `runtime` command. Every subcommand takes `-c/--config PATH` after its name.

One module per command group (jobs, queues, alerts, plugins) and two for the top-level
commands (run: start, enqueue, demo, verify; observe: status, events, stats, metrics);
common.py holds what they share. Errors go to stderr as one paragraph and map to the
pinned exit codes: 2 bad input, 3 backend unreachable (`runtime status` also uses 1
warning and 2 critical).

Cold start matters here (a health probe runs `runtime status` every few seconds): these
modules import only click, the config and runtime.control at the top, and each command
imports the rest of what it uses (Huey, the plugin manager, Prometheus...) itself.
"""

from __future__ import annotations

import click

from runtime.cli import alerts, dashboard, jobs, observe, plugins, queues, run


@click.group()
@click.version_option(package_name="runtime-jobs")
def cli() -> None:
    """Background jobs as plugins, on Huey 3 with Redis or embedded SQLite."""


for command in (
    run.start,
    run.enqueue,
    observe.status,
    jobs.job,
    queues.queue,
    alerts.alert,
    plugins.plugin,
    run.demo,
    run.verify,
    observe.events,
    observe.stats_command,
    observe.metrics_command,
    dashboard.dashboard,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="runtime")
