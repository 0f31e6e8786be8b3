"""The cancellation interface: canceling waiting jobs at once, running ones cooperatively."""

from __future__ import annotations

from abc import ABC, abstractmethod

CANCELABLE_STATES = ("waiting", "delayed", "retrying", "active")


class Cancellation(ABC):
    """Canceling jobs (`runtime job cancel`). Waiting, delayed and retrying jobs become
    canceled at once. An active job is canceled cooperatively: the cancel request names
    its claim's token, its worker polls requests for the jobs it runs (`requested`), sets
    `ctx.cancelled` and, once the job has stopped, records it with `finish`. A request
    made for an earlier claim never matches a later one, so it needs no cleaning up."""

    @abstractmethod
    def cancel(self, job_id: str) -> str | None:
        """Cancel `job_id`; returns the state it was in (None: no such job). Waiting,
        delayed, retrying: it is now canceled (final: `finished_at`, the canceled index,
        idempotency key as in other final states). Active: a cancel request is recorded.
        Final: nothing changes."""

    @abstractmethod
    def requested(self, claims: dict[str, str]) -> set[str]:
        """Of the claims given as {job id: token}, those with a cancel request, in one
        backend call."""

    @abstractmethod
    def finish(self, job_id: str, token: str) -> bool:
        """Active -> canceled (final), releasing the lease. False if the token is stale."""
