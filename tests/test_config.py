from __future__ import annotations

from pathlib import Path

import pytest

from runtime.config import DEFAULT_BACKEND, load_config
from runtime.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_repository_default_config_is_valid() -> None:
    config = load_config(Path(__file__).parent.parent / "config.toml")
    assert config.runtime.backend == DEFAULT_BACKEND
    assert config.queues["default"].workers == 4


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[runtime]\nbackend = 'sqlite:///x.db'\nworkerz = 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: unknown key 'runtime.workerz'."


def test_wrong_type_says_what_was_expected(tmp_path: Path) -> None:
    path = write(tmp_path, "[queues.default]\nworkers = 'four'\n")
    with pytest.raises(
        ConfigError, match=r"key 'queues.default.workers' expected an integer, got str"
    ):
        load_config(path)


def test_malformed_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "[runtime\nbackend=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.toml")


def test_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[runtime]\nbackend = 'sqlite:///a.db'\n")
    monkeypatch.setenv("RUNTIME_CONFIG", str(path))
    assert load_config().runtime.backend == "sqlite:///a.db"
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert load_config().runtime.backend == "redis://127.0.0.1:1/0"
    monkeypatch.setenv("RUNTIME_BACKEND", "sqlite:///b.db")
    assert load_config().runtime.backend == "sqlite:///b.db"


def test_no_file_uses_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNTIME_CONFIG", raising=False)
    config = load_config()
    assert config.source is None
    assert config.queue("anything").workers == 4


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("queues = 3\n", "key 'queues' expected a table, got int"),
        ("runtime = 5\n", "key 'runtime' expected a table, got int"),
        ("[queues]\nsmall = 3\n", "key 'queues.small' expected a table, got int"),
        ("[plugins]\nmodules = ['a', 1]\n", "key 'plugins.modules.1' expected a string, got int"),
        ("[alerts]\ninterval = true\n", "key 'alerts.interval' expected a number, got bool"),
        ("[dashboard.keys]\nretry = 1\n", "key 'dashboard.keys.retry' expected a string, got int"),
        ("[dashboard]\nkeys = 1\n", "key 'dashboard.keys' expected a table, got int"),
        ("[retention]\nfailed_days = -1\n", "key 'retention.failed_days' is invalid: expected"),
        ("[runtime]\nlog_format = 'xml'\n", "key 'runtime.log_format' is invalid: invalid enum"),
        ("workers = 2\n", "unknown key 'workers'"),
        (
            "[runtime]\nbackend = 5\n[queues.a]\nworkerz = 1\n",
            "key 'runtime.backend' expected a string, got int; unknown key 'queues.a.workerz'",
        ),
    ],
)
def test_every_problem_names_its_full_key(tmp_path: Path, text: str, problems: str) -> None:
    """One sentence for the file: a problem per table (or queue), each with its dotted key."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: {problems}")
    assert str(err.value).endswith(".")


def test_a_renew_interval_over_half_the_lease_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "[runtime]\nlease_seconds = 10\nrenew_interval = 6\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (
        f"{path}: key 'runtime.renew_interval' is invalid: 6 s is more than half of "
        "lease_seconds (10 s), so one slow renewal would lose the lease."
    )
    ok = write(tmp_path, "[runtime]\nlease_seconds = 10\nrenew_interval = 5\n")
    assert load_config(ok).runtime.renew_interval == 5
