"""Queue and job names are checked at every door (decorator, producer, config, CLI) with
one sentence naming the bad name, and nothing is stored (issue 9, item 5). Keys join names
with ':', which no name can hold, so queue `a:b` + job `c` can never meet queue `a` +
job `b:c` in a key."""

from __future__ import annotations

from pathlib import Path

import pytest

import runtime
from runtime import BadInput, Runtime
from runtime.backends.base.storage import Backend
from runtime.config import Config, PluginsSection, load_config
from runtime.errors import ConfigError
from runtime.names import RULE, check_name
from tests.helpers import TEST_PLUGIN, run_cli, write_config

VALID = ["default", "q", "diagnostics.echo", "a.b.c", "A-1_b.c", "0", "x" * 100]
INVALID = ["a:b", "", "-x", ".x", "_x", "a b", "x" * 101, "é", "a\n", "a/b", "rt:q:x"]


@pytest.mark.parametrize("name", VALID)
def test_valid_names_pass(name: str) -> None:
    assert check_name("queue", name) == name


@pytest.mark.parametrize("name", INVALID)
def test_invalid_names_are_one_sentence_naming_them(name: str) -> None:
    with pytest.raises(BadInput) as err:
        check_name("queue", name)
    assert str(err.value) == f"queue name {name!r} is invalid: use {RULE}."


def test_a_name_that_is_not_a_string_says_its_type() -> None:
    with pytest.raises(BadInput, match="job name of type int is invalid"):
        check_name("job", 7)


@pytest.mark.parametrize(("field", "value"), [("name", "bad:name"), ("queue", "a:b")])
def test_the_decorator_refuses_a_bad_name(field: str, value: str) -> None:
    with pytest.raises(BadInput, match=f"name '{value}' is invalid"):

        @runtime.job(**{field: value})
        def work() -> None: ...


@pytest.mark.parametrize(
    ("job", "queue", "bad"),
    [("diagnostics.echo", "a:b", "queue name 'a:b'"), ("x:y", None, "job name 'x:y'")],
)
def test_the_producer_refuses_a_bad_name_and_stores_nothing(
    backend: Backend, job: str, queue: str | None, bad: str
) -> None:
    rt = Runtime(
        backend,
        config=Config(plugins=PluginsSection(modules=[str(TEST_PLUGIN)])),
        allow_unknown=True,  # even a job this producer does not know needs a valid name
    )
    with pytest.raises(BadInput, match=f"{bad} is invalid"):
        rt.enqueue(job, {"message": "x"}, queue=queue)
    with pytest.raises(BadInput, match=f"{bad} is invalid"):
        rt.enqueue_many(job, [{"message": "x"}], queue=queue)
    assert backend.list_jobs().jobs == []


def test_the_config_refuses_a_bad_queue_name(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[queues."a:b"]\nworkers = 1\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: queue name 'a:b' is invalid: use {RULE}."


@pytest.mark.parametrize(
    ("args", "bad"),
    [
        (["enqueue", "diagnostics.echo", "--queue", "a:b"], "queue name 'a:b'"),
        (["enqueue", "echo:x"], "job name 'echo:x'"),
    ],
)
def test_the_cli_refuses_a_bad_name_with_exit_2(
    tmp_path: Path, sqlite_url: str, args: list[str], bad: str
) -> None:
    config = write_config(tmp_path, sqlite_url)
    done = run_cli(*args, "-c", str(config))
    assert done.returncode == 2
    assert done.stderr.strip() == f"runtime: {bad} is invalid: use {RULE}."
    listed = run_cli("job", "list", "--json", "-c", str(config))
    assert '"jobs": []' in listed.stdout
