"""The job API: the `@job` decorator, the registry plugins fill, and the JobContext.

A job is a plain function. Its JSON payload's keys become keyword arguments; the
signature is turned into a pydantic model once, so a payload is validated the same way
by the producer at enqueue and by the worker before execution.
"""

from __future__ import annotations

import difflib
import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from runtime.errors import BadInput, InvalidPayload, UnknownJob
from runtime.names import check_name

JOB_ATTR = "__runtime_job__"


class JobContext:
    """What a running job may ask of the runtime: its id, attempt, progress, cancellation."""

    def __init__(
        self,
        job_id: str,
        job: str,
        attempt: int,
        report_progress: Callable[[float, str | None], None] | None = None,
    ) -> None:
        self.job_id = job_id
        self.job = job
        self.attempt = attempt
        self.log = logging.getLogger(f"runtime.job.{job}")
        self._report_progress = report_progress
        self._cancelled = threading.Event()

    @property
    def cancelled(self) -> bool:
        """True once the runtime asked this job to stop (cancel, timeout, shutdown)."""
        return self._cancelled.is_set()

    def cancel(self) -> None:
        self._cancelled.set()

    def progress(self, percent: float, stage: str | None = None) -> None:
        """Record progress (0-100) and an optional stage name on the job record."""
        if not 0 <= percent <= 100:
            raise ValueError(f"progress must be between 0 and 100, got {percent}")
        if self._report_progress is not None:
            self._report_progress(float(percent), stage)


@dataclass(frozen=True)
class JobSpec:
    """A registered job: the function plus the options given to `@job`."""

    name: str
    func: Callable[..., Any]
    queue: str = "default"
    retries: int = 0
    retry_delay: float = 0
    retry_backoff: float = 1.0
    timeout: float | None = None
    priority: int = 0
    cron: str | None = None
    payload_model: type[BaseModel] = field(repr=False, default=BaseModel)
    context_param: str | None = None

    def validate(self, payload: object) -> dict[str, Any]:
        """The payload as validated keyword arguments; InvalidPayload says what is wrong."""
        if not isinstance(payload, dict):
            raise InvalidPayload(
                f"payload for {self.name} must be a JSON object, got {type(payload).__name__}."
            )
        try:
            model = self.payload_model.model_validate(payload)
        except ValidationError as exc:
            raise InvalidPayload(f"invalid payload for {self.name}: {_errors(exc)}.") from None
        return {key: getattr(model, key) for key in type(model).model_fields}

    def message_options(self, priority: int) -> dict[str, Any]:
        """The Huey message options this job's messages carry (retry settings, timeout)."""
        return {
            "priority": priority,
            "retries": self.retries,
            "retry_delay": self.retry_delay,
            "retry_backoff": self.retry_backoff,
            "timeout": self.timeout,
        }

    def cron_matches(self) -> Callable[[Any], bool] | None:
        """huey's crontab validator for the `cron=` string (5 fields), if any."""
        if self.cron is None:
            return None
        from huey import crontab  # all of Huey comes with it: imported for cron jobs only

        return crontab(*self.cron.split())


def _errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "payload"
        if err["type"] == "extra_forbidden":
            parts.append(f"unexpected field '{loc}'")
        elif err["type"] == "missing":
            parts.append(f"missing field '{loc}'")
        else:
            parts.append(f"field '{loc}': {err['msg']}")
    return "; ".join(parts)


def job(
    name: str | None = None,
    queue: str = "default",
    retries: int = 0,
    retry_delay: float = 0,
    retry_backoff: float = 1.0,
    timeout: float | None = None,
    priority: int = 0,
    cron: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a function as a job. The function stays callable as-is; plugins pass it to
    `registry.add` from their `register_jobs` hook."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        setattr(
            func,
            JOB_ATTR,
            build_spec(
                func,
                name=name,
                queue=queue,
                retries=retries,
                retry_delay=retry_delay,
                retry_backoff=retry_backoff,
                timeout=timeout,
                priority=priority,
                cron=cron,
            ),
        )
        return func

    return decorate


def build_spec(
    func: Callable[..., Any], *, name: str | None, cron: str | None, **options: Any
) -> JobSpec:
    """Inspect the signature once: payload model, context parameter, checked options."""
    if inspect.iscoroutinefunction(func):
        raise BadInput(f"job {func.__qualname__} is async; jobs must be plain functions.")
    job_name = check_name("job", name or f"{func.__module__.split('.')[0]}.{func.__name__}")
    check_name("queue", options.get("queue", "default"))
    if cron is not None:
        _check_cron(job_name, cron)
    model, context_param = _payload_model(func, job_name)
    return JobSpec(
        name=job_name,
        func=func,
        cron=cron,
        payload_model=model,
        context_param=context_param,
        **options,
    )


def _check_cron(job_name: str, cron: str) -> None:
    fields = cron.split()
    if len(fields) != 5:
        raise BadInput(f"job {job_name}: cron '{cron}' must have 5 fields, got {len(fields)}.")
    from huey import crontab  # all of Huey comes with it: imported for cron jobs only

    try:
        crontab(*fields)
    except ValueError as exc:
        raise BadInput(f"job {job_name}: cron '{cron}' is invalid ({exc}).") from None


def _payload_model(func: Callable[..., Any], job_name: str) -> tuple[type[BaseModel], str | None]:
    hints = get_type_hints(func)
    fields: dict[str, Any] = {}
    context_param = None
    for param in inspect.signature(func).parameters.values():
        annotation = hints.get(param.name, Any)
        if annotation is JobContext:
            context_param = param.name
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise BadInput(f"job {job_name}: parameter '{param.name}' cannot come from a payload.")
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (annotation, default)
    model = create_model(f"Payload[{job_name}]", __config__=ConfigDict(extra="forbid"), **fields)
    return model, context_param


class JobRegistry:
    """Every job the loaded plugins registered, by name. Plugins call `add`."""

    def __init__(self) -> None:
        self._jobs: dict[str, JobSpec] = {}
        self.origin: dict[str, str] = {}
        self._current_plugin = "?"

    def add(self, func: Callable[..., Any]) -> JobSpec:
        """Register a function decorated with `@runtime.job`; returns its spec."""
        spec = getattr(func, JOB_ATTR, None)
        if not isinstance(spec, JobSpec):
            raise BadInput(
                f"{getattr(func, '__qualname__', func)!r} is not decorated with @runtime.job."
            )
        existing = self._jobs.get(spec.name)
        if existing is not None and existing.func is not func:
            raise BadInput(
                f"job name {spec.name} is registered twice "
                f"(by {self.origin[spec.name]} and {self._current_plugin})."
            )
        self._jobs[spec.name] = spec
        self.origin[spec.name] = self._current_plugin
        return spec

    def registering_for(self, plugin_name: str) -> None:
        """Attribute the following `add` calls to a plugin (for error messages and listings)."""
        self._current_plugin = plugin_name

    def get(self, name: str) -> JobSpec:
        try:
            return self._jobs[name]
        except KeyError:
            raise UnknownJob(_unknown_job_message(name, list(self._jobs))) from None

    def __contains__(self, name: object) -> bool:
        return name in self._jobs

    def __iter__(self) -> Iterator[JobSpec]:
        return iter(sorted(self._jobs.values(), key=lambda spec: spec.name))

    def __len__(self) -> int:
        return len(self._jobs)

    def queues(self) -> set[str]:
        return {spec.queue for spec in self._jobs.values()}


def _unknown_job_message(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.8)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return f"unknown job '{name}'.{hint}"
