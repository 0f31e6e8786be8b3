"""The `runtime` command in real subprocesses: exit codes, JSON keys, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import cli_json, run_cli, write_config
from tests.redis_server import free_port


@pytest.fixture
def config(tmp_path: Path, backend_url: str) -> Path:
    return write_config(tmp_path, backend_url)


def waiting(config: Path) -> int:
    rows = cli_json("status", "-c", str(config))["queues"]
    return sum(row["waiting"] for row in rows)


def test_enqueue_prints_the_id(config: Path) -> None:
    done = run_cli("enqueue", "diagnostics.echo", "-c", str(config))
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip()
    record = cli_json("job", "show", job_id, "-c", str(config))
    assert record["id"] == job_id
    assert {"id", "job", "queue", "state", "attempts", "progress", "result", "error"} <= set(record)
    assert (record["job"], record["state"], record["attempts"]) == (
        "diagnostics.echo",
        "waiting",
        0,
    )


def test_enqueue_json_and_idempotency_key(config: Path) -> None:
    args = (
        "enqueue",
        "diagnostics.echo",
        "--payload",
        '{"message": "x"}',
        "--key",
        "k1",
        "-c",
        str(config),
    )
    first = cli_json(*args)
    assert set(first) == {"id", "job", "queue", "state", "deduplicated"}
    assert (first["job"], first["queue"], first["state"], first["deduplicated"]) == (
        "diagnostics.echo",
        "default",
        "waiting",
        False,
    )
    second = cli_json(*args)
    assert (second["id"], second["deduplicated"]) == (first["id"], True)
    assert waiting(config) == 1


def test_enqueue_delay_and_priority(config: Path) -> None:
    delayed = cli_json(
        "enqueue", "diagnostics.echo", "--delay", "60", "--priority", "3", "-c", str(config)
    )
    assert delayed["state"] == "delayed"
    rows = cli_json("status", "-c", str(config))["queues"]
    assert [(r["name"], r["delayed"]) for r in rows] == [("default", 1)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("diagnostics.ech",),
            "runtime: unknown job 'diagnostics.ech'. "
            "Did you mean: diagnostics.echo, diagnostics.sleep?",
        ),
        (
            ("diagnostics.sleep", "--payload", "{}"),
            "runtime: invalid payload for diagnostics.sleep: missing field 'seconds'.",
        ),
        (
            ("diagnostics.sleep", "--payload", '{"seconds": "soon"}'),
            "runtime: invalid payload for diagnostics.sleep: field 'seconds': "
            "Input should be a valid number, unable to parse string as a number.",
        ),
        (
            ("diagnostics.echo", "--payload", "{not json"),
            "runtime: --payload is not valid JSON (Expecting property name enclosed in double "
            "quotes: line 1 column 2 (char 1)).",
        ),
        (
            ("diagnostics.echo", "--payload", "[1]"),
            "runtime: payload for diagnostics.echo must be a JSON object, got list.",
        ),
    ],
)
def test_bad_input_exits_2_and_enqueues_nothing(
    config: Path, args: tuple[str, ...], message: str
) -> None:
    done = run_cli("enqueue", *args, "-c", str(config))
    assert done.returncode == 2
    assert done.stderr.strip() == message
    assert done.stdout == ""
    assert waiting(config) == 0


def test_malformed_config_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[queues.default]\nworkers = 0\n")
    done = run_cli("status", "-c", str(path))
    assert done.returncode == 2
    assert done.stderr.startswith(f"runtime: {path}: key 'queues.default.workers' is invalid")


@pytest.mark.parametrize("command", [("status",), ("enqueue", "diagnostics.echo"), ("job", "list")])
def test_unreachable_redis_exits_3(tmp_path: Path, command: tuple[str, ...]) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    config = write_config(tmp_path, url)
    done = run_cli(*command, "-c", str(config))
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith(f"runtime: cannot reach Redis at {url}")
    assert done.stderr.count("\n") == 1  # one sentence, no traceback


def test_unusable_sqlite_exits_3(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'db'}")
    done = run_cli("status", "-c", str(config))
    assert done.returncode == 3
    assert done.stderr.startswith(f"runtime: cannot open SQLite database {tmp_path / 'db'}")


def test_status_json_rows_and_exit_codes(config: Path) -> None:
    assert run_cli("status", "-c", str(config)).returncode == 0
    cli_json("enqueue", "diagnostics.echo", "-c", str(config))
    done = run_cli("status", "--json", "-c", str(config))
    assert done.returncode == 2  # work waiting and no live worker: critical
    snapshot = json.loads(done.stdout)
    (row,) = snapshot["queues"]
    assert row == {
        "name": "default",
        "paused": False,
        "waiting": 1,
        "delayed": 0,
        "active": 0,
        "failed": 0,
        "completed": 0,
        "workers": 0,
    }
    assert [a["rule"] for a in snapshot["alerts"]] == ["no_worker"]
    assert snapshot["cron"] == []


def test_job_list_json_pages(config: Path) -> None:
    ids = [cli_json("enqueue", "diagnostics.echo", "-c", str(config))["id"] for _ in range(3)]
    page = cli_json("job", "list", "--limit", "2", "-c", str(config))
    assert [row["id"] for row in page["jobs"]] == ids[::-1][:2]
    assert run_cli("job", "list", "--state", "bogus", "-c", str(config)).returncode == 2


def test_job_show_unknown_id_exits_2(config: Path) -> None:
    done = run_cli("job", "show", "nope", "-c", str(config))
    assert (done.returncode, done.stderr.strip()) == (2, "runtime: no job with id 'nope'.")


def test_plugin_list_shows_broken_plugins(tmp_path: Path, sqlite_url: str) -> None:
    broken = tmp_path / "broken_plugin.py"
    broken.write_text("raise ImportError('needs libfoo')\n")
    config = write_config(tmp_path, sqlite_url)
    config.write_text(config.read_text().replace("modules = [", f'modules = ["{broken}", '))
    infos = {i["name"]: i for i in cli_json("plugin", "list", "-c", str(config))}
    assert infos["broken_plugin"]["error"] == "ImportError: needs libfoo"
    assert "diagnostics.echo" in infos["diagnostics"]["jobs"]
    done = run_cli("start", "-c", str(config))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "runtime: plugin 'broken_plugin' failed to load: ImportError: needs libfoo"
    )


def test_queue_forget_refuses_queues_in_use_and_forgets_an_empty_one(config: Path) -> None:
    path = str(config)

    def forget(queue: str) -> tuple[int, str]:
        done = run_cli("queue", "forget", queue, "-c", path)
        return done.returncode, done.stderr.strip()

    def listed() -> list[str]:
        return [row["name"] for row in cli_json("status", "-c", path)["queues"]]

    assert forget("default") == (
        2,
        f"runtime: queue default is configured ([queues.default] in {config}); "
        "only a queue nobody configures is forgotten.",
    )
    assert forget("scratch") == (2, "runtime: unknown queue 'scratch'; known queues: default.")
    job = cli_json("enqueue", "diagnostics.echo", "--queue", "scratch", "-c", path)
    assert forget("scratch") == (
        2,
        "runtime: queue scratch still holds 1 job; purge it first "
        "(runtime queue purge scratch --yes-i-mean-it scratch) and let running jobs finish.",
    )
    assert listed() == ["default", "scratch"]
    cli_json("job", "delete", job["id"], "-c", path)
    assert cli_json("queue", "forget", "scratch", "-c", path) == {
        "queue": "scratch",
        "forgotten": True,
    }
    assert listed() == ["default"]
    # A purge forgets a queue that nothing configures; its output is unchanged.
    cli_json("enqueue", "diagnostics.echo", "--queue", "other", "-c", path)
    purge = ("queue", "purge", "other", "--yes-i-mean-it", "other", "-c", path)
    assert cli_json(*purge) == {"queue": "other", "removed": 1}
    assert listed() == ["default"]
    assert forget("other") == (2, "runtime: unknown queue 'other'; known queues: default.")
