"""JSON on the wire as Huey sees it: a Huey serializer between Huey's `Message` and the
runtime's message format (runtime.messages), never pickle.

Huey features that would need code or objects on the wire (pipelines, chords,
callbacks) are not supported.
"""

from __future__ import annotations

from huey.registry import Message
from huey.serializer import Serializer

from runtime.messages import OPTIONS, compose, decode, dumps


class JSONSerializer(Serializer):
    """Huey `Message` <-> compact JSON object."""

    def _serialize(self, message: Message) -> bytes:
        if message.args or message.on_complete or message.on_error or message.chord_config:
            raise ValueError("runtime messages carry a JSON payload only (no args or pipelines)")
        options = {name: getattr(message, name) for name in OPTIONS}
        return compose(message.id, message.name, dumps(message.kwargs or {}), options)

    def _deserialize(self, data: bytes) -> Message:
        body = decode(data)
        return Message(
            id=body["id"],
            name=body["job"],
            args=(),
            kwargs=body["payload"],
            retries=body.get("retries"),
            retry_delay=body.get("retry_delay"),
            retry_backoff=body.get("retry_backoff"),
            priority=body.get("priority"),
            timeout=body.get("timeout"),
        )
