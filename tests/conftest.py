"""Shared fixtures: a real redis-server per test session, temp SQLite files, both backends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from runtime import stats
from runtime.backends import open_backend
from runtime.backends.base.storage import Backend
from tests.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied before each test."""
    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runtime.db'}"


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs once per backend."""
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return str(request.getfixturevalue("sqlite_url"))


@pytest.fixture
def backend(backend_url: str) -> Iterator[Backend]:
    instance = open_backend(backend_url)
    yield instance
    instance.close()


@pytest.fixture(autouse=True)
def flush_metrics_after_each_test() -> Iterator[None]:
    """Engines' metrics recorders flush in the background every few seconds: write what a
    test left pending now, before the next test empties Redis, not into its data."""
    yield
    stats.flush_all()


_redis_tests_run = 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that touches the suite's redis-server carries the `redis` marker."""
    for item in items:
        if "redis_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.redis)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _redis_tests_run
    if report.when == "call" and "redis" in report.keywords and not report.skipped:
        _redis_tests_run += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a run without a single Redis test is a failure, not a green build."""
    if os.environ.get("CI") == "true" and _redis_tests_run == 0:
        print("\nCI: no Redis test ran; failing the run.")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif os.environ.get("CI") == "true":
        print(f"\nCI: {_redis_tests_run} Redis tests ran.")
