"""Human durations for the CLI: `90s`, `15m`, `12h`, `7d`, `2w`.

Written by hand: the libraries that parse durations (pytimeparse, isodate, pydantic's
timedelta) take other spellings (`1:30`, ISO 8601 `P7D`, plain seconds), while operators
of Sidekiq/BullMQ-like tools type `7d`; five units and a regex say it all.
"""

from __future__ import annotations

import re

from runtime.errors import BadInput

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str) -> float:
    """Seconds in `text`; BadInput naming the accepted forms otherwise."""
    match = _PATTERN.match(text)
    if match is None:
        raise BadInput(
            f"'{text}' is not a duration; use a number and a unit: 90s, 15m, 12h, 7d, 2w."
        )
    return float(match.group(1)) * UNITS[match.group(2)]
