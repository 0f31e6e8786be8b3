from __future__ import annotations

from pathlib import Path

import pytest

from runtime.config import Config, PluginsSection
from runtime.errors import PluginLoadError
from runtime.plugins import load_plugins

GOOD = """
import runtime

@runtime.job(name="good.hello")
def hello(name: str = "world") -> str:
    return f"hello {name}"

@runtime.hookimpl
def register_jobs(registry):
    registry.add(hello)
"""


def config_with(*modules: str, disable: tuple[str, ...] = ()) -> Config:
    return Config(
        plugins=PluginsSection(modules=list(modules), disable=list(disable), autoload=False)
    )


def test_module_path_plugin_registers_jobs(tmp_path: Path) -> None:
    path = tmp_path / "good.py"
    path.write_text(GOOD)
    plugins = load_plugins(config_with(str(path)))
    assert "good.hello" in plugins.registry
    (info,) = plugins.infos
    assert (info.name, info.jobs, info.error) == ("good", ["good.hello"], None)
    assert info.hooks == ["register_jobs"]


def test_import_failure_is_named_and_refused(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import no_such_module_here\n")
    (tmp_path / "good.py").write_text(GOOD)
    plugins = load_plugins(config_with(str(tmp_path / "broken.py"), str(tmp_path / "good.py")))
    assert "good.hello" in plugins.registry  # one broken plugin does not hide the others
    with pytest.raises(PluginLoadError) as err:
        plugins.raise_for_errors()
    assert str(err.value) == (
        "plugin 'broken' failed to load: ModuleNotFoundError: No module named 'no_such_module_here'"
    )


def test_misspelt_hook_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "typo.py").write_text(
        "import runtime\n@runtime.hookimpl\ndef register_job(registry):\n    pass\n"
    )
    plugins = load_plugins(config_with(str(tmp_path / "typo.py")))
    assert plugins.errors()[0].error is not None
    assert "unknown hook" in str(plugins.errors()[0].error)


def test_disable_blocks_a_plugin(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(GOOD)
    plugins = load_plugins(config_with(str(tmp_path / "good.py"), disable=("good",)))
    assert len(plugins.registry) == 0


def test_entry_point_plugins_autoload() -> None:
    plugins = load_plugins(Config())
    assert "diagnostics.echo" in plugins.registry
    assert {i.name for i in plugins.infos} >= {"diagnostics"}


def test_autoload_false_loads_no_entry_points() -> None:
    assert len(load_plugins(config_with()).registry) == 0


def test_notification_hooks_are_isolated(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "import runtime\n@runtime.hookimpl\ndef job_finished(job):\n    raise RuntimeError('x')\n"
    )
    (tmp_path / "b.py").write_text(
        "import runtime\nSEEN = []\n@runtime.hookimpl\ndef job_finished(job, state):\n"
        "    SEEN.append((job, state))\n"
    )
    plugins = load_plugins(config_with(str(tmp_path / "a.py"), str(tmp_path / "b.py")))
    plugins.notify(
        "job_finished", job="j", job_id="1", queue="q", state="completed", attempt=1, error=None
    )
    b = plugins.pm.get_plugin("b")
    assert b.SEEN == [("j", "completed")]
