"""Masking of secrets and personal data before anyone sees them: the one module for it.

Job records keep the real payload, result and error (a retry must run with the payload);
everything shown to people goes through here first: payloads and results (`mask_payload`:
by field name, and every string inside), error messages and tracebacks (`mask_text`:
URLs with credentials, `name=value` pairs whose name is a secret's, e-mail addresses),
backend URLs (`mask_url`), in `runtime job show/list`, events, every log line and the
dashboard.

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
    "pwd",
    "passphrase",
    "secret",
    "token",
    "key",  # api_key, secret_key, private_key, stripe_key...
    "apikey",
    "auth",
    "authorization",
    "credential",
    "credentials",
    "cookie",
    "session",
    "cvv",
    "cvc",
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
# A URL in free text: a scheme, then everything up to white space or a quote.
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
PASSWORD_QUERY = re.compile(r"([?&]password=)[^&#]*")
# `name=value`, `name: value`, `"name": "value"`: the value is masked when the name is a
# secret's (the same test as a payload field's). An HTTP scheme word before the value
# (`Authorization: Bearer ...`) is kept and the credential after it masked. A lookahead,
# so that a pair may start inside the value of the one before (`failed: password=...`).
PAIR = re.compile(
    r"(?<![A-Za-z0-9_.-])(?=(?P<name>[A-Za-z][A-Za-z0-9_.-]*)(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<scheme>(?:Bearer|Basic|Token|Digest)\s+)?(?P<value>[^\s\"',;&)}\]]+))"
)


def mask_payload(payload: Any) -> Any:
    """A copy of `payload` with secret fields replaced by `***`, personal fields reduced to
    their first character and e-mail addresses inside any string masked."""
    if isinstance(payload, dict):
        return {key: _mask_field(str(key), value) for key, value in payload.items()}
    if isinstance(payload, list):
        return [mask_payload(item) for item in payload]
    if isinstance(payload, str):
        return mask_text(payload)
    return payload


def mask_text(text: str) -> str:
    """`text` (an error message, a traceback, a log line) with the password of every URL,
    the value of every secret-named `name=value` pair and every e-mail address masked."""
    text = URL.sub(lambda found: mask_url(found.group()), text)
    return EMAIL.sub(r"\1***@\2", _mask_pairs(text))


def mask_url(url: str) -> str:
    """`url` with its password (in the userinfo or a `password=` query) replaced by ***.

    The userinfo ends at the last '@', so a password holding '/', '#', '?' or '@' is
    masked whole (urlsplit would end it at the first '/', '#' or '?' and show the rest);
    a query value holding an '@' after a host with a port masks more than the password,
    never less."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if sep and at and ":" in userinfo:
        url = f"{scheme}{sep}{userinfo.partition(':')[0]}:{MASK}@{host}"
    return PASSWORD_QUERY.sub(rf"\1{MASK}", url)


def _mask_pairs(text: str) -> str:
    pieces: list[str] = []
    done = 0  # where the text copied so far ends
    for found in PAIR.finditer(text):
        start, end = found.span("value")
        if start < done or not is_secret_name(found["name"]) or found["value"].startswith(MASK):
            continue
        pieces += [text[done:start], MASK]
        done = end
    return "".join(pieces) + text[done:]


def is_secret_name(name: str) -> bool:
    """Whether a field or parameter called `name` holds a secret (its last word says so)."""
    normalized = _normalized(name)
    return any(normalized.endswith(f"_{word}_") for word in SECRET_WORDS)


def _normalized(name: str) -> str:
    return "_" + CAMEL.sub("_", name).lower().replace("-", "_").replace(".", "_") + "_"


def _mask_field(name: str, value: Any) -> Any:
    normalized = _normalized(name)
    if value is None:
        return None
    if is_secret_name(name):
        return MASK
    personal = any(f"_{word}_" in normalized for word in PERSONAL_WORDS)
    if personal and not isinstance(value, dict | list):
        text = str(value)
        return text[:1] + MASK if text else text
    return mask_payload(value)
