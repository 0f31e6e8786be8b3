"""A plugin distribution built in a temp dir, installed with `runtime plugin install`,
found through its `runtime.plugins` entry point, then uninstalled."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import cli_json, run_cli, write_config

pytestmark = pytest.mark.slow

PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "1.2.3"

[project.entry-points."runtime.plugins"]
{module} = "{module}"

[tool.setuptools]
packages = ["{module}"]
"""

MODULE = """
import runtime


@runtime.job(name="{module}.greet")
def greet(name: str) -> str:
    return "hello " + name


@runtime.hookimpl
def register_jobs(registry):
    registry.add(greet)
"""


def make_package(root: Path, body: str) -> tuple[str, str, Path]:
    suffix = uuid.uuid4().hex[:8]
    module, dist = f"hello_{suffix}", f"runtime-hello-{suffix}"
    folder = root / dist
    (folder / module).mkdir(parents=True)
    (folder / "pyproject.toml").write_text(PYPROJECT.format(dist=dist, module=module))
    (folder / module / "__init__.py").write_text(body.format(module=module))
    return module, dist, folder


@pytest.fixture
def installed() -> Iterator[list[str]]:
    """Distributions the test installed; uninstalled afterwards whatever happens."""
    dists: list[str] = []
    yield dists
    for dist in dists:
        run_cli("plugin", "uninstall", dist, timeout=120)


def test_install_finds_the_entry_point_and_uninstall_removes_it(
    tmp_path: Path, sqlite_url: str, installed: list[str]
) -> None:
    config = str(write_config(tmp_path, sqlite_url))
    module, dist, folder = make_package(tmp_path, MODULE)
    installed.append(dist)
    done = run_cli("plugin", "install", str(folder), "-c", config, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"new plugins: {module}" in done.stdout
    infos = {info["name"]: info for info in cli_json("plugin", "list", "-c", config)}
    assert infos[module]["version"] == "1.2.3"
    assert infos[module]["jobs"] == [f"{module}.greet"]
    assert infos[module]["source"] == f"entry point {dist}"
    enqueued = cli_json("enqueue", f"{module}.greet", "--payload", '{"name": "Ada"}', "-c", config)
    assert enqueued["state"] == "waiting"
    assert run_cli("plugin", "uninstall", dist, timeout=120).returncode == 0
    names = {info["name"] for info in cli_json("plugin", "list", "-c", config)}
    assert module not in names


def test_install_of_a_plugin_that_fails_to_import_exits_2(
    tmp_path: Path, sqlite_url: str, installed: list[str]
) -> None:
    config = str(write_config(tmp_path, sqlite_url))
    module, dist, folder = make_package(tmp_path, "import not_installed_anywhere\n")
    installed.append(dist)
    done = run_cli("plugin", "install", str(folder), "-c", config, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (  # after pip's own output
        f"runtime: plugin '{module}' failed to load: ModuleNotFoundError: "
        "No module named 'not_installed_anywhere'"
    )
