"""The producer API: what an unreachable backend means, and enqueue_many's all-or-nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime import BackendUnavailable, BadInput, InvalidPayload, Runtime
from runtime.backends.base.storage import Backend
from runtime.config import Config, PluginsSection, RuntimeSection
from tests.helpers import TEST_PLUGIN
from tests.redis_server import free_port


def config() -> Config:
    return Config(plugins=PluginsSection(modules=[str(TEST_PLUGIN)]))


def test_unreachable_backend_raises_by_default() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    rt = Runtime(url, config=config())
    with pytest.raises(BackendUnavailable, match=f"the backend {url} is unavailable"):
        rt.enqueue("diagnostics.echo", {})


def test_inline_fallback_runs_the_job_in_the_producer(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    rt = Runtime(f"redis://127.0.0.1:{free_port()}/0", config=config(), on_unavailable="inline")
    result = rt.submit("testjobs.append", {"path": str(out), "text": "ran inline"})
    assert (result.state, result.deduplicated) == ("completed", False)
    ids = rt.enqueue_many("testjobs.append", [{"path": str(out), "text": f"{i}"} for i in range(3)])
    assert len(set(ids)) == 3
    assert out.read_text().split("\n")[:-1] == ["ran inline", "0", "1", "2"]
    failed = rt.submit("diagnostics.fail", {"times": 5})
    assert failed.state == "failed"


def test_enqueue_many_validates_everything_before_pushing(backend: Backend) -> None:
    rt = Runtime(backend, config=config())
    with pytest.raises(InvalidPayload, match="field 'seconds'"):
        rt.enqueue_many("diagnostics.sleep", [{"seconds": 1}] * 10 + [{"seconds": "x"}])
    assert backend.queue_counts(["default"])["default"]["waiting"] == 0


def test_enqueue_many_across_chunks_keeps_order(backend: Backend) -> None:
    rt = Runtime(backend, config=config())
    ids = rt.enqueue_many("diagnostics.echo", [{"message": i} for i in range(12_000)])
    assert len(set(ids)) == 12_000
    assert backend.queue_counts(["default"])["default"]["waiting"] == 12_000
    first = backend.claim("default", 30, 0)
    assert first is not None and first.job_id == ids[0]


def test_non_json_payload_is_refused(backend: Backend) -> None:
    rt = Runtime(backend, config=config(), allow_unknown=True)
    with pytest.raises(InvalidPayload, match="payload for other.job is not JSON"):
        rt.enqueue("other.job", {"when": object()})


def test_idempotency_window_from_config_dedups_after_completion(backend: Backend) -> None:
    windowed = Config(
        runtime=RuntimeSection(idempotency_window=60),
        plugins=PluginsSection(modules=[str(TEST_PLUGIN)]),
    )
    rt = Runtime(backend, config=windowed)
    first = rt.enqueue("diagnostics.echo", {}, key="report-1")
    claim = backend.claim("default", 30, 0)
    assert claim is not None and claim.job_id == first
    assert backend.complete(first, claim.token, None) is True
    again = rt.submit("diagnostics.echo", {}, key="report-1")
    assert (again.id, again.state, again.deduplicated) == (first, "completed", True)
    assert rt.enqueue("diagnostics.echo", {}, key="report-1") == first
    fresh = rt.submit("diagnostics.echo", {}, key="report-1", key_window=0)  # per call
    assert (fresh.state, fresh.deduplicated) == ("waiting", False)
    with pytest.raises(BadInput, match="key_window must be zero or more seconds"):
        rt.enqueue("diagnostics.echo", {}, key="report-1", key_window=-1)
