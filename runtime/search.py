"""Which job records a search matches (an id prefix, payload fields, error text, an error
signature), and the error signature failures are grouped by.

A search compares what people are shown (payload and error masked), so a masked secret or
personal field can never be probed by searching for its value. Values compare as text,
with `*` and `?` as wildcards (`payload.order:42`, `payload.tenant.id:t-*`; an e-mail
address is masked, so `payload.email:bob@example.com` matches nothing)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from runtime.masking import mask_payload, mask_text

# What an error signature replaces (pinned: error type and message with ids and numbers
# normalised), so that "order 17 timed out" and "order 42 timed out" are one group.
_ID_LIKE = re.compile(
    r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\b[0-9a-f]{12,}\b"
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
SIGNATURE_CHARS = 200
MISSING = object()


def error_signature(error: dict[str, Any] | None) -> str:
    """`Type: message` with ids and numbers replaced, cut to SIGNATURE_CHARS."""
    if not error:
        return "unknown error"
    message = _NUMBER.sub("<n>", _ID_LIKE.sub("<id>", str(error.get("message") or "")))
    return f"{error.get('type') or 'Error'}: {message}"[:SIGNATURE_CHARS]


def failure_signature(error: dict[str, Any] | None) -> str:
    """The signature a failure group shows and is keyed by (masked)."""
    return mask_text(error_signature(error))


@dataclass(frozen=True)
class JobQuery:
    """What a job must hold to match; an empty query matches every job."""

    id_prefix: str | None = None
    payload: Mapping[str, str] = field(default_factory=dict)  # dotted path -> pattern
    error: str | None = None  # case-insensitive text in the masked "Type: message"
    signature: str | None = None  # a failure group's signature, exactly

    @property
    def empty(self) -> bool:
        return self == JobQuery()

    def matches(self, record: dict[str, Any]) -> bool:
        """`record`: a job record as the backend stores it (masked here where compared)."""
        if self.id_prefix is not None and not record["id"].startswith(self.id_prefix):
            return False
        if self.signature is not None and failure_signature(record["error"]) != self.signature:
            return False
        if self.error is not None and self.error.lower() not in _error_text(record["error"]):
            return False
        if not self.payload:
            return True
        shown = mask_payload(record["payload"])
        return all(
            _value_matches(_at(shown, path), pattern) for path, pattern in self.payload.items()
        )


def _at(payload: Any, path: str) -> Any:
    """The value at a dotted path (`tenant.id`, `items.0.sku`), or MISSING."""
    value = payload
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def _value_matches(value: Any, pattern: str) -> bool:
    if value is MISSING or isinstance(value, dict | list):
        return False
    if value is None or isinstance(value, bool):
        text = "null" if value is None else str(value).lower()  # as JSON writes them
    else:
        text = str(value)
    return fnmatchcase(text, pattern)


def _error_text(error: dict[str, Any] | None) -> str:
    if not error:
        return ""
    return mask_text(f"{error.get('type') or ''}: {error.get('message') or ''}").lower()
