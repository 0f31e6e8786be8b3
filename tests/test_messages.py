"""The message format: compose is a head, the payload and `}` (what bulk retries rely on)."""

from __future__ import annotations

import pytest

from runtime.messages import (
    FORMAT_VERSION,
    compose,
    compose_head,
    decode,
    dumps,
    head_rest,
    head_with_rest,
)

OPTIONS = {"priority": 2, "retries": 3, "retry_delay": 0.5, "retry_backoff": 2.0, "timeout": None}


@pytest.mark.parametrize("job_id", ["0f3a9c", 'with "quotes" and é'])
def test_compose_is_its_head_the_payload_and_a_brace(job_id: str) -> None:
    payload = dumps({"n": 1, "text": "é"})
    data = compose(job_id, "tests.echo", payload, OPTIONS)
    whole = dumps({"v": FORMAT_VERSION, "id": job_id, "job": "tests.echo", **OPTIONS})
    assert data == f'{whole[:-1]},"payload":{payload}}}'.encode()  # the format as it was
    head = compose_head(job_id, "tests.echo", OPTIONS)
    assert data == head + payload.encode() + b"}"
    assert head_with_rest(job_id, head_rest("tests.echo", OPTIONS)) == head
    body = decode(data)
    assert (body["id"], body["payload"], body["retries"]) == (job_id, {"n": 1, "text": "é"}, 3)
