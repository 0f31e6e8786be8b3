"""`runtime dashboard`: the Textual dashboard (tui/), in this terminal."""

from __future__ import annotations

import click

from runtime.cli.common import config_option, fail, friendly_errors
from runtime.config import load_config
from runtime.errors import BadInput


@click.command()
@config_option
@click.option("--read-only", is_flag=True, help="Show everything, offer no control.")
@click.option(
    "--refresh",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds between reads of the backend.",
)
@friendly_errors
def dashboard(config_path: str | None, read_only: bool, refresh: float) -> None:
    """Live queues, jobs, failures, workers, alerts and events, with safe controls."""
    if not 0.1 <= refresh <= 3600:
        raise BadInput(f"--refresh must be between 0.1 and 3600 seconds, got {refresh:g}.")
    config = load_config(config_path)
    import sys

    if not sys.stdout.isatty():
        fail("the dashboard needs a terminal; use `runtime status` for text.", BadInput.exit_code)
    from tui.app import DashboardApp
    from tui.data import DashboardData

    DashboardApp(DashboardData(config, read_only=read_only), refresh_seconds=refresh).run()
