"""The backend's clock as this process sees it, without a round trip per reading.

Every time the backend stores is on its own clock (`Backend.now`: Redis' TIME, the SQLite
file's host). Code that stamps many events on the hot path (the metrics of each finished
job) cannot ask the backend each time, so it reads this: the local clock shifted by the
offset last measured, re-measured whenever its owner calls `sync` (the metrics flush, every
few seconds). The offset's error is half a round trip plus the local clock's drift since.
"""

from __future__ import annotations

import time

from runtime.backends.base.storage import Backend


class BackendClock:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._offset: float | None = None

    def sync(self) -> None:
        """Measure the offset: the backend's now against the middle of the round trip."""
        before = time.time()
        server = self._backend.now()
        self._offset = server - (before + time.time()) / 2

    def now(self) -> float:
        """The backend's clock, by the last offset measured (measured first if none was)."""
        if self._offset is None:
            try:
                self.sync()
            except Exception:  # the backend is down: the local clock until the next sync
                self._offset = 0.0
        return time.time() + (self._offset or 0.0)
