"""Fast seeding of a backend for the benchmarks, through the backend's own bulk paths:
`enqueue_many` in chunks for waiting jobs, and for failed ones the way workers leave them
(enqueued, claimed, then dead-lettered by the reaper as stalled, which works in batches).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from runtime.config import Config, PluginsSection
from runtime.producer import Runtime

CHUNK = 10_000  # jobs per enqueue_many
LEASE = 0.5  # seconds: the seeding claims' leases, reaped once they all ran out
JOB = "bench.noop"

Payload = Callable[[int], dict[str, Any]]


def no_payload(_: int) -> dict[str, Any]:
    return {}


def config_for(url: str) -> Config:
    """A config on `url` with the benchmark jobs (bench/noop_jobs.py) and no other plugin."""
    config = Config(plugins=PluginsSection(modules=["bench.noop_jobs"], autoload=False))
    config.runtime.backend = url
    return config


def runtime_for(url: str) -> Runtime:
    return Runtime(config=config_for(url))


def enqueue(
    rt: Runtime, queue: str, count: int, payload: Payload = no_payload, job: str = JOB
) -> None:
    """`count` waiting jobs of `job` on `queue`, `payload(n)` the n-th one's payload."""
    for start in range(0, count, CHUNK):
        payloads = [payload(n) for n in range(start, min(start + CHUNK, count))]
        rt.enqueue_many(job, payloads, queue=queue)


def dead_letter(
    rt: Runtime, per_queue: Mapping[str, int], payload: Payload = no_payload, job: str = JOB
) -> None:
    """`per_queue[name]` failed jobs on each queue (the queues must hold no waiting job):
    enqueued, claimed, then, once every lease ran out, dead-lettered by the reaper."""
    for queue, count in per_queue.items():
        enqueue(rt, queue, count, payload, job)
        while rt.backend.claim(queue, LEASE, 0) is not None:
            pass
    time.sleep(LEASE)  # then every lease has run out, on the backend's own clock
    for queue, count in per_queue.items():
        stalled = rt.backend.reap_expired(queue, max_stalls=1).stalled
        assert len(stalled) == count, (queue, len(stalled), count)
