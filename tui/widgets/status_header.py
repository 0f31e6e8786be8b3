"""The header every screen shows: backend, connection state, leader, daemons and workers."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static


class StatusHeader(Static):
    """One line: `runtime 0.x  redis://…  connected  leader h:1  2 daemons  8 workers`;
    `disconnected: <why> (retrying every Ns)` in red while the backend is unreachable."""

    def show(
        self,
        version: str,
        url: str,
        home: dict[str, Any] | None,
        error: str | None,
        read_only: bool = False,
    ) -> None:
        line = Text()
        line.append(f" runtime {version} ", style="bold reverse")
        line.append(f" {url} ")
        if error is not None:
            line.append(f" disconnected: {error} ", style="bold white on red")
        else:
            line.append(" connected ", style="bold green")
        if read_only:
            line.append(" read-only ", style="bold reverse")
        if home is not None:
            workers = home["workers"]
            daemons = sum(1 for w in workers if w.get("kind") == "daemon")
            processes = sum(1 for w in workers if w.get("kind") == "worker")
            line.append(
                f" leader {home['leader'] or 'none'}  {daemons} daemons  {processes} workers"
            )
        self.update(line)
        self.set_class(error is not None, "disconnected")
