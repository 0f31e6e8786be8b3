"""Structured log lines: readable text on a terminal, one JSON object per line otherwise.

Every line is masked (runtime.masking.mask_text) whatever logged it: a job's error
message, a library's exception, a URL in a warning."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from runtime.masking import mask_text

# Attributes every LogRecord has; anything else was passed with `extra=` and is a field.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return mask_text(json.dumps(line, default=str))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return time.strftime(datefmt or "%H:%M:%S", time.localtime(record.created))


def setup_logging(fmt: str = "auto", level: str = "INFO") -> None:
    """Configure the root logger once per process: `fmt` is auto, text or json."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Huey's task logger reports every execution and every job exception with a traceback;
    # our engine logs each outcome once, with job fields. Huey's consumer loggers (queue
    # read errors during an outage, dying workers) stay audible.
    logging.getLogger("huey").setLevel(logging.CRITICAL)
    logging.getLogger("huey.consumer").setLevel(logging.WARNING)
