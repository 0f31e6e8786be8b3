"""The producer API app code calls: `Runtime.from_config(...).enqueue(...)`.

A producer validates a payload against the job's signature when the job's plugin is
importable here, serializes it to JSON and pushes it; the worker validates again.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from runtime.backends import open_backend
from runtime.backends.base import Backend, EnqueueResult, NewJob
from runtime.config import Config, load_config
from runtime.errors import BadInput, InvalidPayload
from runtime.jobs import JobRegistry, JobSpec
from runtime.plugins import load_plugins
from runtime.serializer import encode_message


class Runtime:
    """A connection to one backend plus the registry of the jobs this process knows.

    `allow_unknown=True` lets a producer that does not install a job's plugin enqueue it
    by name; the worker then validates it (and dead-letters an unknown name).
    """

    def __init__(
        self,
        backend: str | Backend | None = None,
        *,
        config: Config | None = None,
        registry: JobRegistry | None = None,
        allow_unknown: bool = False,
    ) -> None:
        self.config = config or load_config()
        if isinstance(backend, Backend):
            self.backend = backend
        else:
            url = backend or self.config.runtime.backend
            self.backend = open_backend(url, self.config.base_dir)
        if registry is None:
            plugins = load_plugins(self.config)
            plugins.raise_for_errors()
            registry = plugins.registry
        self.registry = registry
        self.allow_unknown = allow_unknown

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Runtime:
        return cls(config=load_config(Path(path) if path else None), **kwargs)

    def enqueue(
        self,
        name: str,
        payload: dict[str, Any] | None = None,
        *,
        queue: str | None = None,
        priority: int | None = None,
        delay: float | None = None,
        key: str | None = None,
    ) -> str:
        """Queue one job; returns its id (the existing id when `key` deduplicates)."""
        return self.submit(name, payload, queue=queue, priority=priority, delay=delay, key=key).id

    def submit(
        self,
        name: str,
        payload: dict[str, Any] | None = None,
        *,
        queue: str | None = None,
        priority: int | None = None,
        delay: float | None = None,
        key: str | None = None,
    ) -> EnqueueResult:
        """`enqueue` returning the whole result: id, state and whether it was deduplicated."""
        new_job = self._new_job(name, payload or {}, queue, priority, delay, key)
        return self.backend.push(new_job)

    def enqueue_many(
        self,
        name: str,
        payloads: list[dict[str, Any]],
        *,
        queue: str | None = None,
        priority: int | None = None,
        delay: float | None = None,
    ) -> list[str]:
        """Queue many jobs of one kind in one round trip; every payload is validated first,
        so one invalid payload enqueues nothing."""
        jobs = [self._new_job(name, p, queue, priority, delay, None) for p in payloads]
        return [result.id for result in self.backend.push_many(jobs)]

    def job(self, job_id: str) -> dict[str, Any] | None:
        """The job's record, as `runtime job show --json` prints it, or None."""
        return self.backend.get_job(job_id)

    def close(self) -> None:
        self.backend.close()

    def _new_job(
        self,
        name: str,
        payload: dict[str, Any],
        queue: str | None,
        priority: int | None,
        delay: float | None,
        key: str | None,
    ) -> NewJob:
        spec = self._spec(name)
        if spec is not None:
            payload_out = _json_payload(spec, payload)
        elif isinstance(payload, dict):
            payload_out = payload
        else:
            raise InvalidPayload(f"payload for {name} must be a JSON object.")
        if delay is not None and delay < 0:
            raise BadInput(f"delay must be zero or more seconds, got {delay}.")
        job_id = uuid.uuid4().hex
        prio = priority if priority is not None else (spec.priority if spec else 0)
        options = _message_options(spec)
        data = encode_message(job_id, name, payload_out, priority=prio, **options)
        eta = time.time() + delay if delay else None
        return NewJob(
            id=job_id,
            job=name,
            queue=queue or (spec.queue if spec else "default"),
            data=data,
            payload=payload_out,
            priority=prio,
            eta=eta,
            key=key,
        )

    def _spec(self, name: str) -> JobSpec | None:
        if self.allow_unknown and name not in self.registry:
            return None
        return self.registry.get(name)


def _json_payload(spec: JobSpec, payload: dict[str, Any]) -> dict[str, Any]:
    """Validate, then send the caller's JSON values (not coerced Python objects)."""
    spec.validate(payload)
    return payload


def _message_options(spec: JobSpec | None) -> dict[str, Any]:
    if spec is None:
        return {}
    return {
        "retries": spec.retries,
        "retry_delay": spec.retry_delay,
        "retry_backoff": spec.retry_backoff,
        "timeout": spec.timeout,
    }
