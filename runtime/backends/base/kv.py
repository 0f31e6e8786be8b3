"""The key-value interface: the part of Huey's storage protocol the runtime uses.

Huey keeps locks in a key-value store, and the cron ticker its claimed minutes and last
runs (Huey's "result store"); counters complete the set. A backend implements these on its
own connection and is handed to Huey as its storage (runtime.engine). Huey's queue and
schedule are not used, since jobs live in the backend's records and leases
(base/storage.py): `enqueue` and `dequeue` refuse.

Why backends implement this themselves instead of extending Huey's storage classes, as
they once did: importing any Huey module runs `huey/__init__`, which imports its
consumer, every storage and redis-py: about 110 ms, three times the interpreter's own
start, that `runtime status` and every other command would pay while using none of it.
The methods are the one-line reads and writes of Huey's RedisStorage and SqliteStorage,
on the same keys and tables, so data written by either stays readable.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


def empty_data() -> Any:
    """Huey's marker for an absent key (`huey.constants.EmptyData`), which `peek_data`
    and `pop_data` return as Huey's storages do. Imported when a key is found absent,
    which happens in workers and daemons, where Huey is loaded anyway."""
    from huey.constants import EmptyData

    return EmptyData


class KeyValueStore(ABC):
    """Huey's storage protocol, as far as Huey and runtime.cron call it."""

    #: Huey's consumer adds a polling sleep unless the storage's dequeue blocks; claims
    #: wait for work themselves, so the engine sets this to True.
    blocking: bool = False

    @abstractmethod
    def put_data(self, key: str, value: bytes, is_result: bool = False) -> None: ...

    @abstractmethod
    def peek_data(self, key: str) -> Any:
        """The value of `key`, or `empty_data()`."""

    @abstractmethod
    def peek_many(self, keys: list[str]) -> dict[str, bytes]:
        """The values of those `keys` that exist."""

    @abstractmethod
    def pop_data(self, key: str) -> Any:
        """The value of `key`, deleted, or `empty_data()`."""

    @abstractmethod
    def delete_data(self, key: str) -> bool: ...

    @abstractmethod
    def has_data_for_key(self, key: str) -> bool: ...

    @abstractmethod
    def put_if_empty(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """Store `value` unless `key` exists; True if stored. With `ttl`, the key expires
        after that many seconds, so exactly one caller takes it per ttl (cron's ticks)."""

    @abstractmethod
    def incr(self, key: str, amount: int = 1) -> int:
        """Add `amount` to counter `key` (0 when absent); returns the new value."""

    @abstractmethod
    def delete_counter(self, key: str) -> None: ...

    @abstractmethod
    def result_items(self) -> dict[str, bytes]:
        """Every key and value of the store (cron's last runs are read from here)."""

    @abstractmethod
    def result_store_size(self) -> int: ...

    @abstractmethod
    def flush_results(self) -> None: ...

    def enqueue(self, data: bytes, priority: float | None = None) -> None:
        raise NotImplementedError("use push/claim")  # Huey's dequeue deletes: no lease

    def dequeue(self) -> bytes | None:
        raise NotImplementedError("use push/claim")
