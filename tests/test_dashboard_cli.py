"""`runtime dashboard` at the command line: bad input refused with one sentence and exit 2,
and `--serve` serving a page that needs nothing from the internet."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.helpers import clean_env, run_cli, wait_for, write_config
from tests.redis_server import free_port


def test_bad_refresh_and_no_terminal_are_refused(tmp_path: Path, sqlite_url: str) -> None:
    config = str(write_config(tmp_path, sqlite_url))
    done = run_cli("dashboard", "-c", config, "--refresh", "0")
    assert (done.returncode, done.stderr) == (
        2,
        "runtime: --refresh must be between 0.1 and 3600 seconds, got 0.\n",
    )
    done = run_cli("dashboard", "-c", config)  # stdout is a pipe here
    assert (done.returncode, done.stderr) == (
        2,
        "runtime: the dashboard needs a terminal; use `runtime status` for text.\n",
    )


def test_serving_to_another_host_needs_allow_remote(tmp_path: Path, sqlite_url: str) -> None:
    config = str(write_config(tmp_path, sqlite_url))
    done = run_cli("dashboard", "-c", config, "--serve", "--host", "0.0.0.0")
    assert done.returncode == 2
    assert done.stderr.startswith("runtime: --host 0.0.0.0 would let other machines reach")


def test_serve_answers_with_a_page_that_loads_nothing_from_the_internet(
    tmp_path: Path, sqlite_url: str
) -> None:
    config = str(write_config(tmp_path, sqlite_url))
    port = free_port()
    command = [sys.executable, "-m", "runtime", "dashboard", "-c", config, "--serve"]
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
        start_new_session=True,
    )
    try:
        page = wait_for(lambda: _get(f"http://127.0.0.1:{port}/"), timeout=30, what="the page")
        assert "runtime dashboard" in page
        assert "googleapis" not in page and "https://" not in page
        font = "static/fonts/RobotoMono-VariableFont_wght.ttf"
        assert font in page
        assert _get(f"http://127.0.0.1:{port}/{font}", binary=True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _get(url: str, binary: bool = False) -> str | bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 (loopback)
            body = reply.read()
            return body if binary else body.decode()
    except OSError:
        return None
