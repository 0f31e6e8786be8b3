"""The shape of the code: no import circle in runtime/ (import-linter, with the contract in
pyproject.toml), a built wheel that carries every Lua script of the Redis backend, and
commands that import only the heavy libraries they use (the CLI's cold start)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.helpers import clean_env, write_config

ROOT = Path(__file__).resolve().parent.parent
LUA_DIR = ROOT / "runtime" / "backends" / "redis" / "lua"


def lint_imports(folder: Path) -> subprocess.CompletedProcess[str]:
    """import-linter's `lint-imports` on the contracts of `folder`/pyproject.toml."""
    command = [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"]
    env = {**os.environ, "PYTHONPATH": str(folder)}
    return subprocess.run(
        [*command, "--no-cache"], cwd=folder, env=env, capture_output=True, text=True, check=False
    )


def test_runtime_has_no_import_circle() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No import circle anywhere in runtime/ KEPT" in done.stdout
    assert "The dashboard reaches the runtime through runtime.control only KEPT" in done.stdout


def test_the_contract_catches_a_circle_through_late_and_type_checking_imports(
    tmp_path: Path,
) -> None:
    """The same contract, on a package whose only circle goes through an import inside a
    function and one under TYPE_CHECKING (the two ways the old alerts/control circle hid)."""
    package = tmp_path / "circle"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "inner" / "__init__.py").write_text("")
    (package / "inner" / "a.py").write_text("def f():\n    from circle import b\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from circle.inner import a\n"
    )
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in ours["contracts"] if c["type"] == "acyclic_siblings"]
    assert contract["ancestors"] == ["runtime"]
    (tmp_path / "pyproject.toml").write_text(
        '[tool.importlinter]\nroot_packages = ["circle"]\n\n'
        "[[tool.importlinter.contracts]]\n"
        f'name = "{contract["name"]}"\ntype = "{contract["type"]}"\nancestors = ["circle"]\n'
    )
    done = lint_imports(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BROKEN" in done.stdout
    assert ".inner -> .b" in done.stdout or ".b -> .inner" in done.stdout


def test_the_wheel_carries_every_lua_script(tmp_path: Path) -> None:
    """Built from a copy of the sources (the build must not write into the checkout), then
    installed into a folder of its own: every script loads from there."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    for package in ("runtime", "tui"):
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    build = [sys.executable, "-m", "build", "--wheel", "--outdir", "dist"]
    done = subprocess.run(build, cwd=source, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (source / "dist").glob("*.whl")
    scripts = sorted(path.name for path in LUA_DIR.glob("*.lua"))
    assert "claim.lua" in scripts and "lib.lua" in scripts
    with zipfile.ZipFile(wheel) as archive:
        packed = sorted(
            Path(name).name
            for name in archive.namelist()
            if name.startswith("runtime/backends/redis/lua/")
        )
        archive.extractall(tmp_path / "installed")
    assert packed == scripts
    names = [name.removesuffix(".lua") for name in scripts]
    check = (
        "import runtime.backends.redis.scripts as s; "
        f"assert s.__file__.startswith({str(tmp_path / 'installed')!r}), s.__file__; "
        f"[s.load_script(n) for n in {names!r} if n not in ('lib', 'metrics')]; "
        "s.lua_source('metrics')"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "installed")}
    loaded = subprocess.run(
        [sys.executable, "-c", check],
        cwd=tmp_path,  # not the checkout: `python -c` puts the working folder first on sys.path
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr


# Libraries whose import costs more than the interpreter's own start, and what needs them.
HEAVY = ("huey", "pydantic", "redis", "prometheus_client", "psutil", "pluggy")
LOADED = """
import contextlib, io, json, sys
from runtime.cli import main
command, heavy = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["runtime", *command]
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main()
print(json.dumps([name for name in heavy if name in sys.modules]))
"""


def loaded_by(command: list[str], config: Path) -> list[str]:
    """The HEAVY libraries `runtime COMMAND -c CONFIG` imported, run in a fresh interpreter."""
    args = [json.dumps([*command, "-c", str(config)]), json.dumps(HEAVY)]
    done = subprocess.run(
        [sys.executable, "-c", LOADED, *args],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(done.stdout))


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["status"], []),
        (["job", "list"], []),
        (["alert", "list"], []),
        (["events"], []),
        (["metrics"], ["prometheus_client"]),
        (["enqueue", "diagnostics.echo", "--payload", '{"message": "x"}'], ["pydantic", "pluggy"]),
    ],
)
def test_commands_import_only_what_they_use(
    tmp_path: Path, command: list[str], expected: list[str]
) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'runtime.db'}")
    assert loaded_by(command, config) == expected


@pytest.mark.redis
def test_status_on_redis_imports_the_client_and_nothing_heavier(
    tmp_path: Path, redis_url: str
) -> None:
    assert loaded_by(["status"], write_config(tmp_path, redis_url)) == ["redis"]
