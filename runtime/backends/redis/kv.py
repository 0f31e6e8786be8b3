"""Huey's key-value store on Redis (base/kv.py): the same hashes Huey's RedisStorage
uses (`huey.results.runtime`, `huey.counters.runtime`, see keys.py), on the backend's
connection."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import redis
from redis.commands.core import Script

from runtime.backends.base.kv import KeyValueStore, empty_data
from runtime.backends.redis import keys
from runtime.backends.redis.scripts import load_script


class RedisKeyValue(KeyValueStore):
    """Huey's RedisStorage key-value operations, for the RedisBackend built on it."""

    name = keys.STORAGE_NAME
    result_key = keys.HUEY_RESULTS
    counter_key = keys.HUEY_COUNTERS
    # Huey's queue and schedule keys, never written here (enqueue and dequeue refuse).
    queue_key = keys.HUEY_QUEUE
    schedule_key = keys.HUEY_SCHEDULE

    def __init__(self, conn: redis.Redis) -> None:
        # Any: redis-py types every reply as str | bytes; these are bytes (the pool does
        # not decode responses), as Huey's storage, untyped, took them.
        self.conn: Any = conn
        self._put_if_empty: Script = conn.register_script(load_script("put_if_empty"))

    @cached_property
    def supports_hash_ttl(self) -> bool:
        """HEXPIRE needs Redis 7.4+ (or Valkey 9+, which reports Redis 7.2), as in Huey."""
        info = self.conn.info("server")
        for field, least in (("redis_version", (7, 4)), ("valkey_version", (9,))):
            try:
                version = tuple(int(part) for part in str(info[field]).split(".")[:2])
            except (KeyError, ValueError):
                continue
            if version >= least:
                return True
        return False

    def put_data(self, key: str, value: bytes, is_result: bool = False) -> None:
        self.conn.hset(self.result_key, key, value)

    def peek_data(self, key: str) -> Any:
        value = self.conn.hget(self.result_key, key)
        return empty_data() if value is None else value

    def peek_many(self, keys: list[str]) -> dict[str, bytes]:
        values = self.conn.hmget(self.result_key, keys)
        return {key: value for key, value in zip(keys, values, strict=True) if value is not None}

    def pop_data(self, key: str) -> Any:
        with self.conn.pipeline() as pipe:
            pipe.hget(self.result_key, key)
            pipe.hdel(self.result_key, key)
            value, _ = pipe.execute()
        return empty_data() if value is None else value

    def delete_data(self, key: str) -> bool:
        return bool(self.conn.hdel(self.result_key, key))

    def has_data_for_key(self, key: str) -> bool:
        return bool(self.conn.hexists(self.result_key, key))

    def put_if_empty(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """With a ttl on a server older than 7.4 (no hash-field TTL), expiry is tracked in
        `rt:kv:expiry` and enforced by the next put_if_empty (lua/put_if_empty.lua)."""
        if ttl is not None and not self.supports_hash_ttl:
            args = (key, value, ttl)
            return bool(self._put_if_empty(keys=[self.result_key], args=args))
        if not self.conn.hsetnx(self.result_key, key, value):
            return False
        if ttl is not None:  # milliseconds: a ttl below a second must not round to 0
            self.conn.hpexpire(self.result_key, max(int(ttl * 1000), 1), key)
        return True

    def incr(self, key: str, amount: int = 1) -> int:
        return int(self.conn.hincrby(self.counter_key, key, amount))

    def delete_counter(self, key: str) -> None:
        self.conn.hdel(self.counter_key, key)

    def result_items(self) -> dict[str, bytes]:
        items = self.conn.hgetall(self.result_key).items()
        return {key.decode(): value for key, value in items}

    def result_store_size(self) -> int:
        return int(self.conn.hlen(self.result_key))

    def flush_results(self) -> None:
        self.conn.delete(self.result_key)
