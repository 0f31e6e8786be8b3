"""The parts of Huey the engine relies on beyond its public API (pyproject pins huey to the
tested minor release). A Huey release that renames one of these would not break loudly:
an override would simply stop being called, or a private attribute would be set in vain.
These tests name each one, so that upgrading Huey fails here first."""

from __future__ import annotations

import inspect

import pytest
from huey import Huey, MemoryHuey
from huey.consumer import Consumer

from runtime.engine import RuntimeHuey
from runtime.worker import QueueConsumer

# Methods Huey calls on itself that RuntimeHuey overrides, and the parameters Huey passes.
HUEY_OVERRIDES = {
    "create_storage": [],
    "dequeue": [],
    "enqueue": ["task"],
    "is_revoked": ["task", "timestamp", "peek"],
    "delete": ["key"],
    "_requeue_task": ["task", "timestamp", "retry_eta"],  # private: a failed task's retry
    "read_schedule": ["timestamp"],
    "read_periodic": ["timestamp"],
}
# The same for QueueConsumer and Huey's Consumer.
CONSUMER_OVERRIDES = {
    "_set_signal_handlers": [],  # private: which signals do what
    "start": [],  # the handlers set before Huey forks the scheduler and workers
}


@pytest.mark.parametrize(
    ("ours", "theirs", "name", "params"),
    [(RuntimeHuey, Huey, name, params) for name, params in HUEY_OVERRIDES.items()]
    + [(QueueConsumer, Consumer, name, params) for name, params in CONSUMER_OVERRIDES.items()],
)
def test_every_override_still_overrides_a_huey_method(
    ours: type, theirs: type, name: str, params: list[str]
) -> None:
    assert name in vars(ours), f"{ours.__name__} no longer overrides {name}"
    original = getattr(theirs, name, None)
    assert callable(original), f"Huey's {theirs.__name__}.{name} is gone"
    assert list(inspect.signature(original).parameters)[1:] == params


def test_every_override_of_a_huey_method_is_listed() -> None:
    """A new override must be added above, so that the next Huey upgrade checks it."""
    for ours, theirs, listed in (
        (RuntimeHuey, Huey, HUEY_OVERRIDES),
        (QueueConsumer, Consumer, CONSUMER_OVERRIDES),
    ):
        overrides = {
            name
            for name, value in vars(ours).items()
            if callable(value) and hasattr(theirs, name) and name != "__init__"
        }
        assert overrides == set(listed)


def test_the_private_state_the_engine_uses_is_still_there() -> None:
    """RuntimeHuey reads `_tasks_in_flight` (the jobs whose leases it renews), calls
    `_get_timestamp` (cron's minute) and replaces `_registry` (job names without module
    prefixes); QueueConsumer sets `huey._timeout_handler` (thread timeouts) and replaces
    `_signal_actions` (SIGTERM drains)."""
    huey = MemoryHuey("internals", utc=True)
    assert isinstance(huey._tasks_in_flight, set)
    assert huey._timeout_handler is None
    assert hasattr(huey._registry, "register") and hasattr(huey._registry, "string_to_task")
    assert callable(huey._get_timestamp)
    consumer = Consumer(huey, workers=1)
    assert isinstance(consumer._signal_actions, dict)
    assert huey._timeout_handler is not None  # the consumer installs Huey's own
