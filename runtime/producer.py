"""The producer API app code calls: `Runtime.from_config(...).enqueue(...)`.

A producer validates a payload against the job's signature when the job's plugin is
importable here, serializes it to JSON and pushes it; the worker validates again.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from runtime.backends import open_backend, outage_errors
from runtime.backends.base.storage import Backend, EnqueueResult, NewJob
from runtime.chunks import bounded
from runtime.config import Config, load_config
from runtime.errors import BackendUnavailable, BadInput, InvalidPayload
from runtime.jobs import JobContext, JobRegistry, JobSpec
from runtime.messages import MAX_DEPTH, compose, depth, dumps
from runtime.names import check_name
from runtime.plugins import load_plugins

log = logging.getLogger("runtime.producer")

# Jobs per push_many call in `enqueue_many`: big enough to amortise a round trip, small
# enough that building the next chunk overlaps with the backend storing this one; and
# bytes of payload per call, so that large payloads make smaller chunks.
PUSH_CHUNK = 5_000
PUSH_CHUNK_BYTES = 16 * 1024 * 1024


class Runtime:
    """A connection to one backend plus the registry of the jobs this process knows.

    `allow_unknown=True` lets a producer that does not install a job's plugin enqueue it
    by name; the worker then validates it (and dead-letters an unknown name).

    `on_unavailable` says what an unreachable backend means: "raise" (BackendUnavailable)
    or "inline", which runs the job right here in the producer (the direct-execution
    fallback: no record, no retries; its outcome is logged and returned as the state).
    """

    def __init__(
        self,
        backend: str | Backend | None = None,
        *,
        config: Config | None = None,
        registry: JobRegistry | None = None,
        allow_unknown: bool = False,
        on_unavailable: Literal["raise", "inline"] = "raise",
    ) -> None:
        self.config = config or load_config()
        self.on_unavailable = on_unavailable
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
        key_window: float | None = None,
    ) -> str:
        """Queue one job; returns its id (the existing id when `key` deduplicates)."""
        result = self.submit(
            name,
            payload,
            queue=queue,
            priority=priority,
            delay=delay,
            key=key,
            key_window=key_window,
        )
        return result.id

    def submit(
        self,
        name: str,
        payload: dict[str, Any] | None = None,
        *,
        queue: str | None = None,
        priority: int | None = None,
        delay: float | None = None,
        key: str | None = None,
        key_window: float | None = None,
    ) -> EnqueueResult:
        """`enqueue` returning the whole result: id, state and whether it was deduplicated.

        `key_window`: seconds a finished job with the same `key` still deduplicates (see
        Backend.push); None takes `[runtime] idempotency_window`.
        """
        blueprint = self._blueprint(name, queue, priority, delay, key_window)
        payload = payload if payload is not None else {}
        job = blueprint.build(payload, blueprint.check(payload), key)
        try:
            return self.backend.push(job)
        except outage_errors() as exc:
            self._raise_unless_inline(exc)
            return self._run_inline(blueprint, job)

    def enqueue_many(
        self,
        name: str,
        payloads: list[dict[str, Any]],
        *,
        queue: str | None = None,
        priority: int | None = None,
        delay: float | None = None,
    ) -> list[str]:
        """Queue many jobs of one kind, pipelined. Every payload is validated before any
        is pushed, so one invalid payload enqueues nothing."""
        blueprint = self._blueprint(name, queue, priority, delay)
        encoded = [blueprint.check(payload) for payload in payloads]
        pairs = list(zip(payloads, encoded, strict=True))
        chunks = list(bounded(pairs, lambda pair: len(pair[1]), PUSH_CHUNK, PUSH_CHUNK_BYTES))
        return [result.id for result in self._push_chunks(blueprint, chunks)]

    def _push_chunks(
        self, blueprint: Blueprint, chunks: list[list[tuple[dict[str, Any], str]]]
    ) -> list[EnqueueResult]:
        """Build chunk k+1 while the backend stores chunk k: the backend's work runs in
        another process (Redis) or releases the GIL (SQLite), so the two overlap."""
        results: list[EnqueueResult] = []
        jobs: list[NewJob] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="push") as pusher:
            pending: Future[list[EnqueueResult]] | None = None
            try:
                for chunk in chunks:
                    built = [blueprint.build(payload, text) for payload, text in chunk]
                    jobs += built
                    if pending is not None:
                        results += pending.result()
                    pending = pusher.submit(self.backend.push_many, built)
                if pending is not None:
                    results += pending.result()
            except outage_errors() as exc:
                self._raise_unless_inline(exc)
                # Chunks confirmed before the outage stay queued; the rest runs here.
                results += [self._run_inline(blueprint, job) for job in jobs[len(results) :]]
        return results

    def _raise_unless_inline(self, exc: Exception) -> None:
        if self.on_unavailable != "inline":
            raise BackendUnavailable(
                f"the backend {self.backend.display_url} is unavailable: {exc}."
            ) from exc

    def _run_inline(self, blueprint: Blueprint, job: NewJob) -> EnqueueResult:
        """The direct-execution fallback: run the job in this process, once."""
        if blueprint.spec is None:
            raise BackendUnavailable(
                f"the backend {self.backend.display_url} is unavailable and job "
                f"{blueprint.name} is not installed here to run inline."
            )
        spec = blueprint.spec
        log.warning(
            "backend %s unavailable: running %s %s inline",
            self.backend.display_url,
            spec.name,
            job.id,
            extra={"job_id": job.id},
        )
        kwargs = spec.validate(job.payload)
        if spec.context_param:
            kwargs[spec.context_param] = JobContext(job.id, spec.name, 1)
        try:
            spec.func(**kwargs)
        except Exception:
            log.exception("inline job %s %s failed", spec.name, job.id)
            return EnqueueResult(job.id, "failed", False)
        return EnqueueResult(job.id, "completed", False)

    def job(self, job_id: str) -> dict[str, Any] | None:
        """The job's record, as `runtime job show --json` prints it, or None."""
        return self.backend.get_job(job_id)

    def close(self) -> None:
        self.backend.close()

    def _blueprint(
        self,
        name: str,
        queue: str | None,
        priority: int | None,
        delay: float | None,
        key_window: float | None = None,
    ) -> Blueprint:
        check_name("job", name)
        if queue is not None:
            check_name("queue", queue)
        if delay is not None and delay < 0:
            raise BadInput(f"delay must be zero or more seconds, got {delay}.")
        if key_window is not None and key_window < 0:
            raise BadInput(f"key_window must be zero or more seconds, got {key_window}.")
        spec = None if self.allow_unknown and name not in self.registry else self.registry.get(name)
        default_priority = spec.priority if spec else 0
        return Blueprint(
            name=name,
            spec=spec,
            queue=queue or (spec.queue if spec else "default"),
            priority=priority if priority is not None else default_priority,
            eta=time.time() + delay if delay else None,
            key_window=self.config.runtime.idempotency_window if key_window is None else key_window,
            max_payload_bytes=self.config.runtime.max_payload_bytes,
        )


@dataclass(frozen=True)
class Blueprint:
    """What every job of one enqueue call shares, resolved once rather than per payload."""

    name: str
    spec: JobSpec | None
    queue: str
    priority: int
    eta: float | None
    key_window: float = 0.0  # seconds a finished holder of a job's key keeps it
    max_payload_bytes: int = 1024 * 1024  # [runtime] max_payload_bytes

    def check(self, payload: dict[str, Any]) -> str:
        """Validate a payload; returns it as JSON (the caller's values, not coerced ones)."""
        if not isinstance(payload, dict):
            kind = type(payload).__name__
            raise InvalidPayload(f"payload for {self.name} must be a JSON object, got {kind}.")
        if depth(payload) > MAX_DEPTH:
            raise InvalidPayload(
                f"payload for {self.name} nests more than {MAX_DEPTH} levels deep."
            )
        if self.spec is not None:
            self.spec.validate(payload)
        try:
            text = dumps(payload)  # ASCII (non-ASCII is escaped): its length is its size
        except (TypeError, ValueError) as exc:
            raise InvalidPayload(f"payload for {self.name} is not JSON: {exc}.") from None
        if len(text) > self.max_payload_bytes:
            raise InvalidPayload(
                f"payload for {self.name} is {len(text):,} bytes as JSON; at most "
                f"{self.max_payload_bytes:,} ([runtime] max_payload_bytes)."
            )
        return text

    def build(self, payload: dict[str, Any], payload_json: str, key: str | None = None) -> NewJob:
        job_id = uuid.uuid4().hex
        # Without the plugin here, the worker's registered retry settings apply.
        options = (
            self.spec.message_options(self.priority) if self.spec else {"priority": self.priority}
        )
        data = compose(job_id, self.name, payload_json, options)
        return NewJob(
            id=job_id,
            job=self.name,
            queue=self.queue,
            data=data,
            payload=payload,
            priority=self.priority,
            eta=self.eta,
            key=key,
            key_window=self.key_window,
        )
