"""What each daemon and worker process publishes in its heartbeat (`backend.put_worker`).

`runtime status --json` lists these under `workers`; a heartbeat older than its ttl
(3 x `[runtime] heartbeat_interval`) marks its process dead.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import psutil

# The supervising daemon's id, passed to its worker processes so their heartbeats name it.
DAEMON_ENV = "RUNTIME_DAEMON_ID"


def beat(
    kind: str,
    queues: list[str],
    started: float,
    processed: int,
    current_jobs: list[str],
    **extra: Any,
) -> dict[str, Any]:
    """One heartbeat's info: `kind` is "daemon" or "worker"; `extra` adds kind-specific keys."""
    return {
        "kind": kind,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "queues": queues,
        "started": started,
        "heartbeat": time.time(),
        "current_jobs": current_jobs,
        "processed": processed,
        "rss": rss(with_children=kind == "worker"),
        **extra,
    }


def rss(with_children: bool) -> int:
    """Resident memory in bytes of this process, plus its children's (process workers)."""
    me = psutil.Process()
    processes = [me, *me.children(recursive=True)] if with_children else [me]
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:  # a child that exited meanwhile
            continue
    return total
