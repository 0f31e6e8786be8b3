"""The README stays true: its plugin example works when pasted, its commands are CI's."""

from __future__ import annotations

import re
from pathlib import Path

from runtime.backends.base.storage import Backend
from runtime.config import load_config
from runtime.engine import RuntimeHuey
from runtime.producer import Runtime

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def code_blocks(section: str, language: str) -> list[str]:
    body = README.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", body, re.S)


def test_quick_start_is_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    demo, tests = (
        block.strip() for block in code_blocks("Try it (fresh machine, Python 3.11+)", "sh")
    )
    assert demo == "python3 -m pip install -e . -e plugins/diagnostics && python3 -m runtime demo"
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests.replace("pip install -e", "pip install -q -e") in ci


def test_write_a_plugin_example_works_when_pasted(tmp_path: Path, backend: Backend) -> None:
    (example,) = code_blocks("Write a plugin", "python")
    (tmp_path / "greetings.py").write_text(example)
    config_path = tmp_path / "config.toml"
    config_path.write_text('[plugins]\nmodules = ["greetings.py"]\nautoload = false\n')
    rt = Runtime(backend, config=load_config(config_path))
    job_id = rt.enqueue("greetings.greet", {"name": "Ada"})
    huey = RuntimeHuey("default", backend, list(rt.registry), lease_seconds=15, claim_timeout=0)
    task = huey.dequeue()
    assert task is not None
    huey.execute(task)
    record = rt.job(job_id)
    assert record is not None
    assert (record["state"], record["result"]) == ("completed", "Hello, Ada.")
    assert record["progress"] == {"percent": 50.0, "stage": "composing"}


def test_configuration_example_is_a_valid_config(tmp_path: Path) -> None:
    (example,) = code_blocks("Configuration", "toml")
    path = tmp_path / "config.toml"
    path.write_text(example)
    config = load_config(path)
    assert config.runtime.lease_seconds == 15.0
    assert config.retention.failed_max == 10_000
