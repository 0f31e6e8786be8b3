"""`runtime dashboard`: the Textual dashboard (tui/), in this terminal or, with `--serve`,
in a browser through textual-serve."""

from __future__ import annotations

import os
import shlex
import sys

import click

from runtime.cli.common import config_option, fail, friendly_errors
from runtime.config import load_config
from runtime.errors import BadInput

LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
@click.option("--serve", is_flag=True, help="Serve the dashboard to a browser instead.")
@click.option("--host", default="127.0.0.1", show_default=True, help="With --serve: address.")
@click.option("--port", type=int, default=8321, show_default=True, help="With --serve: port.")
@click.option(
    "--allow-remote",
    is_flag=True,
    help="With --serve: accept a --host other than loopback (anyone reaching it can act).",
)
@friendly_errors
def dashboard(
    config_path: str | None,
    read_only: bool,
    refresh: float,
    serve: bool,
    host: str,
    port: int,
    allow_remote: bool,
) -> None:
    """Live queues, jobs, failures, workers, alerts and events, with safe controls."""
    if not 0.1 <= refresh <= 3600:
        raise BadInput(f"--refresh must be between 0.1 and 3600 seconds, got {refresh:g}.")
    config = load_config(config_path)
    from tui.app import DashboardApp
    from tui.keymap import keymap

    keymap(config.dashboard.keys, DashboardApp)  # a bad [dashboard.keys] before any terminal
    if serve:
        _serve(config_path, read_only, refresh, host, port, allow_remote)
        return
    # Under textual-serve the app talks to the browser through its web driver, not a tty.
    if not sys.stdout.isatty() and "TEXTUAL_DRIVER" not in os.environ:
        fail("the dashboard needs a terminal; use `runtime status` for text.", BadInput.exit_code)
    from tui.data import DashboardData

    DashboardApp(DashboardData(config, read_only=read_only), refresh_seconds=refresh).run()


def _serve(
    config_path: str | None,
    read_only: bool,
    refresh: float,
    host: str,
    port: int,
    allow_remote: bool,
) -> None:
    if host not in LOOPBACK and not allow_remote:
        raise BadInput(
            f"--host {host} would let other machines reach the dashboard; add --allow-remote "
            "to mean it (and --read-only unless they may act on the queues)."
        )
    if not 1 <= port <= 65535:
        raise BadInput(f"--port must be between 1 and 65535, got {port}.")
    if host not in LOOPBACK:
        access = "see" if read_only else "see and control"
        click.echo(
            f"runtime: warning: anyone who can reach {host}:{port} can {access} the queues.",
            err=True,
        )
    from tui.serve import server

    command = [sys.executable, "-m", "runtime", "dashboard", "--refresh", str(refresh)]
    if config_path is not None:
        command += ["-c", os.path.abspath(config_path)]
    if read_only:
        command.append("--read-only")
    server(shlex.join(command), host, port).serve()
