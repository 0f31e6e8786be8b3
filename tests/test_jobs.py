from __future__ import annotations

import pytest

import runtime
from runtime.errors import BadInput, InvalidPayload, UnknownJob
from runtime.jobs import JobContext, JobRegistry, build_spec


@runtime.job(name="t.add", retries=2, priority=5)
def add(a: int, b: int = 1) -> int:
    return a + b


@runtime.job()
def with_context(ctx: JobContext, name: str) -> str:
    return f"{ctx.job_id}:{name}"


def test_default_name_is_top_module_and_function() -> None:
    registry = JobRegistry()
    assert registry.add(with_context).name == "tests.with_context"


def test_options_are_kept() -> None:
    spec = JobRegistry().add(add)
    assert (spec.name, spec.retries, spec.priority, spec.queue) == ("t.add", 2, 5, "default")


def test_payload_validation() -> None:
    spec = JobRegistry().add(add)
    assert spec.validate({"a": 2}) == {"a": 2, "b": 1}
    with pytest.raises(InvalidPayload, match="missing field 'a'"):
        spec.validate({})
    with pytest.raises(InvalidPayload, match="unexpected field 'c'"):
        spec.validate({"a": 1, "c": 2})
    with pytest.raises(InvalidPayload, match="field 'a'"):
        spec.validate({"a": "not a number"})
    with pytest.raises(InvalidPayload, match="must be a JSON object"):
        spec.validate([1, 2])


def test_context_parameter_is_not_part_of_the_payload() -> None:
    spec = JobRegistry().add(with_context)
    assert spec.context_param == "ctx"
    with pytest.raises(InvalidPayload, match="unexpected field 'ctx'"):
        spec.validate({"name": "x", "ctx": 1})


def test_unknown_job_lists_close_names() -> None:
    registry = JobRegistry()
    registry.add(add)
    with pytest.raises(UnknownJob, match=r"unknown job 't.ad'. Did you mean: t.add\?"):
        registry.get("t.ad")


def test_undecorated_function_is_refused() -> None:
    with pytest.raises(BadInput, match="not decorated"):
        JobRegistry().add(lambda: None)


def test_cron_is_parsed_by_huey_crontab() -> None:
    def tick() -> None: ...

    spec = build_spec(tick, name="t.tick", cron="*/5 * * * *")
    matches = spec.cron_matches()
    assert matches is not None
    import datetime

    assert matches(datetime.datetime(2026, 1, 1, 10, 5))
    assert not matches(datetime.datetime(2026, 1, 1, 10, 6))
    with pytest.raises(BadInput, match="must have 5 fields"):
        build_spec(tick, name="t.bad", cron="* * *")


def test_progress_bounds() -> None:
    seen: list[tuple[float, str | None]] = []
    ctx = JobContext("id", "t.x", 1, lambda pct, stage: seen.append((pct, stage)))
    ctx.progress(50, "half")
    assert seen == [(50.0, "half")]
    with pytest.raises(ValueError):
        ctx.progress(101)
