from __future__ import annotations

import datetime

import pytest

import runtime
from runtime import cron
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
    assert matches(datetime.datetime(2026, 1, 1, 10, 5))
    assert not matches(datetime.datetime(2026, 1, 1, 10, 6))
    with pytest.raises(BadInput, match="must have 5 fields"):
        build_spec(tick, name="t.bad", cron="* * *")


def _next(schedule: str, after: datetime.datetime) -> datetime.datetime | None:
    def tick() -> None: ...

    return cron.next_run(build_spec(tick, name="t.tick", cron=schedule), after)


AT = datetime.datetime(2026, 12, 4, 22, 29, 41)  # a Friday


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        ("* * * * *", AT, datetime.datetime(2026, 12, 4, 22, 30)),  # strictly after
        ("0 * * * *", AT, datetime.datetime(2026, 12, 4, 23, 0)),
        ("0 6 * * *", AT, datetime.datetime(2026, 12, 5, 6, 0)),
        ("0 6 * * *", datetime.datetime(2026, 12, 5, 5, 59, 59), datetime.datetime(2026, 12, 5, 6)),
        ("*/15 9-17 * * 1-5", AT, datetime.datetime(2026, 12, 7, 9, 0)),  # Monday
        ("30 8 * * 0", AT, datetime.datetime(2026, 12, 6, 8, 30)),  # Sunday is 0
        ("0 0 1 1 *", AT, datetime.datetime(2027, 1, 1, 0, 0)),
        ("0 0 29 2 *", AT, datetime.datetime(2028, 2, 29, 0, 0)),  # the next leap day
        ("0 0 13 * 5", AT, datetime.datetime(2027, 8, 13, 0, 0)),  # day AND weekday, as Huey
    ],
)
def test_next_run_is_the_first_matching_minute_after(
    schedule: str, after: datetime.datetime, expected: datetime.datetime
) -> None:
    assert _next(schedule, after) == expected


def test_next_run_is_none_without_a_match_or_a_cron() -> None:
    assert _next("0 0 30 2 *", AT) is None  # February 30th: valid fields, never a date

    def plain() -> None: ...

    assert cron.next_run(build_spec(plain, name="t.plain", cron=None), AT) is None


def test_progress_bounds() -> None:
    seen: list[tuple[float, str | None]] = []
    ctx = JobContext("id", "t.x", 1, lambda pct, stage: seen.append((pct, stage)))
    ctx.progress(50, "half")
    assert seen == [(50.0, "half")]
    with pytest.raises(ValueError):
        ctx.progress(101)
