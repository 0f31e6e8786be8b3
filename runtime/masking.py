"""Masking of secrets and personal data in payloads before anyone sees them.

Job records keep the real payload (a retry must run with it); everything shown to people
goes through `mask_payload` first: `runtime job show/list`, events, logs and the dashboard.

Hand-written on purpose: PII scanners such as Presidio or scrubadub need language models and
are built for free text; a payload is a JSON object whose field names say what they hold, so
matching names (plus e-mail addresses in any string) is both cheaper and more predictable.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

# Field names are lower-cased with `-` and camelCase read as `_`, then matched by whole
# `_`-separated words: secrets by the name's last words (`access_token`, not `token_count`),
# personal data anywhere in the name (`billing_address_line`).
# Values of these fields are secrets: never shown at all.
SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "credential",
    "private_key",
    "access_key",
    "cookie",
    "session",
)
# Field names whose values are personal data: shown with only the first character.
PERSONAL_WORDS = (
    "email",
    "phone",
    "mobile",
    "address",
    "first_name",
    "last_name",
    "full_name",
    "surname",
    "birth",
    "dob",
    "ssn",
    "iban",
    "card_number",
    "passport",
    "national_id",
    "ip_address",
)
CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def mask_payload(payload: Any) -> Any:
    """A copy of `payload` with secret fields replaced by `***`, personal fields reduced to
    their first character and e-mail addresses inside any string masked."""
    if isinstance(payload, dict):
        return {key: _mask_field(str(key), value) for key, value in payload.items()}
    if isinstance(payload, list):
        return [mask_payload(item) for item in payload]
    if isinstance(payload, str):
        return EMAIL.sub(r"\1***@\2", payload)
    return payload


def _mask_field(name: str, value: Any) -> Any:
    normalized = "_" + CAMEL.sub("_", name).lower().replace("-", "_") + "_"
    if value is None:
        return None
    if any(normalized.endswith(f"_{word}_") for word in SECRET_WORDS):
        return MASK
    personal = any(f"_{word}_" in normalized for word in PERSONAL_WORDS)
    if personal and not isinstance(value, dict | list):
        text = str(value)
        return text[:1] + MASK if text else text
    return mask_payload(value)
