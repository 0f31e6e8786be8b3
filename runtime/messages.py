"""The job message on the wire: a JSON object, never pickle, and the job record's JSON.

Whoever can write to the backend must not be able to run code on a worker, so a message
is plain JSON naming a registered job and its payload, plus the retry options Huey's
Message carries (runtime.serializer turns it into Huey's Message and back). Nothing here
imports Huey: producers, backends and the CLI build and read messages without it.
"""

from __future__ import annotations

import json
from typing import Any

FORMAT_VERSION = 1
# Huey Message fields a runtime message carries besides id, job and payload, and the JSON
# types each may have (None: the job's registered default).
OPTIONS = ("retries", "retry_delay", "retry_backoff", "priority", "timeout")
OPTION_TYPES: dict[str, tuple[type, ...]] = {
    "retries": (int,),
    "retry_delay": (int, float),
    "retry_backoff": (int, float),
    "priority": (int,),
    "timeout": (int, float),
}
# Nesting a payload may have (a JSON object holding an object is 2). Producers refuse
# deeper payloads and workers dead-letter deeper messages, where decoding and validating
# would otherwise recurse until Python's own limit.
MAX_DEPTH = 64
# Characters of a job error's message and traceback kept in its record and events.
MESSAGE_CAP = 8 * 1024
TRACEBACK_CAP = 32 * 1024


class PoisonMessage(ValueError):
    """The bytes are not a message this runtime can run; the reason is the text."""


def decode(data: bytes) -> dict[str, Any]:
    """The message's JSON object, checked: PoisonMessage when it is not one we can run."""
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoisonMessage(f"message is not JSON ({exc})") from None
    except RecursionError:
        raise PoisonMessage(f"message is nested more than {MAX_DEPTH} levels deep") from None
    if not isinstance(body, dict) or body.get("v") != FORMAT_VERSION:
        raise PoisonMessage(f"message is not a version {FORMAT_VERSION} runtime message")
    missing = {"id", "job", "payload"} - body.keys()
    if missing:
        raise PoisonMessage(f"message lacks {', '.join(sorted(missing))}")
    for field in ("id", "job"):
        if not isinstance(body[field], str) or not body[field]:
            raise PoisonMessage(f"message {field} is not a non-empty string")
    if not isinstance(body["payload"], dict):
        raise PoisonMessage("message payload is not a JSON object")
    for option, kinds in OPTION_TYPES.items():
        value = body.get(option)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            expected = "an integer" if kinds == (int,) else "a number"
            raise PoisonMessage(f"message option {option} is {value!r}, not {expected}")
    if depth(body["payload"]) > MAX_DEPTH:
        raise PoisonMessage(f"message payload is nested more than {MAX_DEPTH} levels deep")
    return body


def depth(value: Any) -> int:
    """How deeply JSON containers nest in `value` (a scalar is 0, `{}` is 1), walked
    without recursion; the walk stops once past MAX_DEPTH."""
    if not isinstance(value, dict | list):
        return 0
    deepest = 0
    stack = [(value, 1)]
    while stack and deepest <= MAX_DEPTH:
        item, level = stack.pop()
        deepest = max(deepest, level)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def dumps(value: Any) -> str:
    """Compact JSON; TypeError for values JSON cannot carry."""
    return json.dumps(value, separators=(",", ":"))


def compose(job_id: str, job: str, payload_json: str, options: dict[str, Any]) -> bytes:
    """The message bytes, from a payload already encoded (a producer encodes it once for
    the message and the job record alike)."""
    return compose_head(job_id, job, options) + payload_json.encode() + b"}"


def compose_head(job_id: str, job: str, options: dict[str, Any]) -> bytes:
    """The start of `compose`'s message, up to its payload, which comes last: the message
    is this, the payload's JSON and `}`. A bulk retry sends only heads, and the backend
    puts each in place of the stored message's own (Backend.requeue_many), so no payload
    travels or sits in memory. A stored message is compose's for a job when it starts as
    the job's head does up to its id (`{"v":1,"id":"...",`); its head then ends at the
    first `,"payload":` after that: what comes between is the job name, a JSON string
    (its quotes would be escaped), and option values, numbers or null."""
    return head_with_rest(job_id, head_rest(job, options))


# What every head starts with, before its id.
HEAD_START = f'{{"v":{FORMAT_VERSION},"id":'.encode()


def head_rest(job: str, options: dict[str, Any]) -> bytes:
    """A head after its id: the same for every job of one name and options, so that a bulk
    retry of 100,000 jobs encodes it once per name and priority, not once per job."""
    return f',{dumps({"job": job, **options})[1:-1]},"payload":'.encode()


def head_with_rest(job_id: str, rest: bytes) -> bytes:
    """The head of job `job_id` from `head_rest` (the Redis script spells the same join)."""
    return HEAD_START + dumps(job_id).encode() + rest


def capped(text: str, limit: int) -> str:
    """`text`, or its first `limit` characters and a marker saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [cut: {len(text) - limit:,} more characters]"


def encode_result(value: Any, limit: int = 64 * 1024) -> str | None:
    """A job's return value as JSON text for its record, capped so records stay small."""
    if value is None:
        return None
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = json.dumps(repr(value))
    if len(text) > limit:
        text = json.dumps({"truncated": True, "preview": text[:1024], "size": len(text)})
    return text


def payload_of(data: bytes) -> dict[str, Any]:
    """The payload of a stored message (a job record's `payload`: stored once, in the
    message); {} when the bytes are not a message holding one."""
    return describe_message(data)[1]


def describe_message(data: bytes) -> tuple[str, dict[str, Any]]:
    """Best-effort job name and payload of a message that cannot run, for its dead-letter
    record: '?' and {} when the bytes are not a JSON object naming them."""
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):  # ValueError includes UnicodeDecodeError
        return "?", {}
    if not isinstance(message, dict):
        return "?", {}
    name, payload = message.get("job"), message.get("payload")
    return (
        name if isinstance(name, str) and name else "?",
        payload if isinstance(payload, dict) else {},
    )
