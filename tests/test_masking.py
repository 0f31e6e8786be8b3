"""Secrets and personal data are masked wherever a person or a log sees text: payloads,
results, error messages and tracebacks, events, log lines and the CLI (issue 9, item 8).
What is stored stays as it was: a retry runs with the real payload."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from runtime import control
from runtime.backends.base.storage import Backend
from runtime.config import Config, PluginsSection
from runtime.engine import RuntimeHuey
from runtime.logs import JSONFormatter, TextFormatter
from runtime.masking import MASK, mask_payload, mask_text, mask_url
from runtime.producer import Runtime
from tests.helpers import TEST_PLUGIN, run_cli, write_config

DSN = "postgres://app:hunter2@db.internal/app"
SHOWN = "postgres://app:***@db.internal/app"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pa/ss@db.example:6379/0", "redis://:***@db.example:6379/0"),
        ("redis://app:a#b?c@db.example/0", "redis://app:***@db.example/0"),
        ("redis://app:p@ss/w#?rd@db.example:6379/0", "redis://app:***@db.example:6379/0"),
        ("redis://db.example:6379/0", "redis://db.example:6379/0"),
    ],
)
def test_a_url_password_is_masked_whatever_characters_it_holds(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    assert "pa/ss" not in mask_url(url) and "a#b" not in mask_url(url)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"could not connect to {DSN}: refused", f"could not connect to {SHOWN}: refused"),
        (f"'{DSN}'", f"'{SHOWN}'"),
        ("login failed: password=hunter2 user=bob", f"login failed: password={MASK} user=bob"),
        ("Authorization: Bearer eyJhbGciOi.x.y", f"Authorization: Bearer {MASK}"),
        ('{"secret_key": "AKIA123", "count": 3}', f'{{"secret_key": "{MASK}", "count": 3}}'),
        (
            "pwd=1 passphrase: two auth=3 cvv=123",
            f"pwd={MASK} passphrase: {MASK} auth={MASK} cvv={MASK}",
        ),
        ("token_count=5 access_token=zzz", f"token_count=5 access_token={MASK}"),
        ("KeyError: 'stripe_key'", "KeyError: 'stripe_key'"),
        ("mail jane@corp.com now", "mail j***@corp.com now"),
    ],
)
def test_free_text_is_masked(text: str, shown: str) -> None:
    assert mask_text(text) == shown


def test_the_missing_secret_names_are_recognised() -> None:
    payload = {
        name: "x" for name in ("secret_key", "auth", "pwd", "passphrase", "stripe_key", "cvv")
    }
    assert mask_payload(payload) == dict.fromkeys(payload, MASK)
    assert mask_payload({"monkey": "m", "author": "a", "token_count": 2}) == {
        "monkey": "m",
        "author": "a",
        "token_count": 2,
    }


@pytest.fixture
def rt(backend: Backend) -> Runtime:
    return Runtime(backend, config=Config(plugins=PluginsSection(modules=[str(TEST_PLUGIN)])))


def run_one(rt: Runtime) -> None:
    huey = RuntimeHuey(
        "default", rt.backend, list(rt.registry), lease_seconds=15, claim_timeout=0.2
    )
    task = huey.dequeue()
    assert task is not None
    huey.execute(task)


def test_errors_results_and_events_are_masked_where_shown_and_kept_where_stored(
    rt: Runtime,
) -> None:
    failed = rt.enqueue("testjobs.leak", {"dsn": DSN})
    done = rt.enqueue("testjobs.leak", {"dsn": DSN, "fail": False})
    run_one(rt)
    run_one(rt)
    shown = control.show_job(rt.backend, failed)
    assert shown["error"]["message"] == f"could not connect to {SHOWN}: connection refused"
    assert "hunter2" not in shown["error"]["traceback"] and SHOWN in shown["error"]["traceback"]
    assert shown["payload"] == {"dsn": SHOWN}
    result = control.show_job(rt.backend, done)["result"]
    assert result == {"dsn": SHOWN, "api_key": MASK, "note": f"reached {SHOWN}"}
    listed = control.list_jobs(rt.backend, state="failed")["jobs"]
    assert "hunter2" not in json.dumps(listed)
    events, _ = control.read_events(rt.backend, limit=100)
    assert "hunter2" not in json.dumps(events)
    assert any(SHOWN in json.dumps(event.get("error")) for event in events)
    stored = rt.job(failed) or {}
    assert "hunter2" in stored["error"]["message"] and stored["payload"] == {"dsn": DSN}


@pytest.mark.parametrize("formatter", [JSONFormatter(), TextFormatter()])
def test_every_log_line_is_masked(formatter: logging.Formatter) -> None:
    try:
        raise ConnectionError(f"could not connect to {DSN}")
    except ConnectionError:
        record = logging.LogRecord(
            "runtime.engine", logging.WARNING, __file__, 1, "job failed: %s", (DSN,), sys.exc_info()
        )
    line = formatter.format(record)
    assert "hunter2" not in line and SHOWN in line


def test_the_cli_shows_masked_errors(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path, sqlite_url)
    rt = Runtime.from_config(config)
    job_id = rt.enqueue("testjobs.leak", {"dsn": DSN})
    run_one(rt)
    for args in (["job", "show", job_id], ["job", "show", job_id, "--json"], ["events", "--json"]):
        done = run_cli(*args, "-c", str(config))
        assert done.returncode == 0, done.stderr
        assert "hunter2" not in done.stdout and SHOWN in done.stdout
