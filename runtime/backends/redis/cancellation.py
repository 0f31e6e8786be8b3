"""Cancellation on Redis (base/cancellation.py).

A cancel request is the job hash's `cancel_requested` field, holding the token of the
claim it was made for; lua/cancel.lua cancels a pending job at once, records the request
for an active one, and (given the claim's token) records a stopped job as canceled.
"""

from __future__ import annotations

import redis
from redis.commands.core import Script

from runtime.backends.base.cancellation import Cancellation
from runtime.backends.redis import keys
from runtime.backends.redis.records import text
from runtime.backends.redis.scripts import load_script

CANCEL_FIELD = "cancel_requested"


class RedisCancellation(Cancellation):
    def __init__(self, conn: redis.Redis) -> None:
        self._conn = conn
        self._cancel: Script = conn.register_script(load_script("cancel"))

    def cancel(self, job_id: str) -> str | None:
        state = self._cancel(args=[job_id, ""])
        return None if not state else text(state)

    def requested(self, claims: dict[str, str]) -> set[str]:
        with self._conn.pipeline(transaction=False) as pipe:
            for job_id in claims:
                pipe.hget(keys.job(job_id), CANCEL_FIELD)
            tokens = pipe.execute()
        return {
            job_id
            for (job_id, token), asked in zip(claims.items(), tokens, strict=True)
            if asked is not None and text(asked) == token
        }

    def finish(self, job_id: str, token: str) -> bool:
        return bool(self._cancel(args=[job_id, token]))
