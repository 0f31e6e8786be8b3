"""`runtime plugin`: list, install and uninstall plugins."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import click

from runtime.cli.common import config_option, emit, friendly_errors, json_option
from runtime.config import load_config
from runtime.errors import BadInput


@click.group()
def plugin() -> None:
    """List, install and uninstall plugins."""


@plugin.command("list")
@config_option
@json_option
@friendly_errors
def plugin_list(config_path: str | None, as_json: bool) -> None:
    """Plugins with their version, hooks, jobs and load error."""
    from runtime.plugins import load_plugins  # pluggy and every plugin's jobs: only here

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
