"""How numbers, ages and times read in the dashboard's cells."""

from __future__ import annotations

import datetime


def count(value: int) -> str:
    return f"{value:,}"


def rate(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def age(seconds: float | None) -> str:
    """'-', '12s', '4m05s', '3h12m', '2d04h'."""
    if seconds is None:
        return "-"
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def when(timestamp: float | None) -> str:
    """A Unix time as local 'YYYY-MM-DD HH:MM:SS', or '-'."""
    if timestamp is None:
        return "-"
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")
