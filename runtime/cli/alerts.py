"""`runtime alert`: list, acknowledge and resolve alerts."""

from __future__ import annotations

import click

from runtime import control
from runtime.cli.common import config_option, connect, emit, friendly_errors, json_option, say
from runtime.config import load_config


@click.group()
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
    from runtime.plugins import load_plugins  # pluggy and every plugin's jobs: only here

    config = load_config(config_path)
    row = control.resolve_alert(connect(config), load_plugins(config), alert_id)
    say(as_json, row, f"alert {row['id']} {row['state']}")
