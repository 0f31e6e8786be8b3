"""Alerts on Redis: one hash per alert, an index of open alerts by (rule, queue), and the
resolved ones in a sorted set by resolve time so pruning is a range query.

Transitions use WATCH/MULTI (redis-py's `transaction`), not a Lua script: they happen a
few times a day, at the pace of conditions and operators, so the extra round trips cost
nothing, and a concurrent change (an operator acknowledging while the evaluator resolves)
makes the transaction retry on fresh data instead of overwriting it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import redis
from redis.client import Pipeline
from redis.typing import EncodableT, FieldT

from runtime.backends.base.alerts import ALERT_FIELDS, ALERT_MOVES, AlertStore, alert_changes
from runtime.backends.redis import keys

T = TypeVar("T")
FLOAT_FIELDS = frozenset({"since", "updated_at", "acknowledged_at", "resolved_at"})
PRUNE_BATCH = 1000  # alerts deleted per round trip


class RedisAlertStore(AlertStore):
    """The alerts of one RedisBackend, on its client."""

    def __init__(self, conn: redis.Redis) -> None:
        self._conn = conn

    def open_alerts(self) -> list[dict[str, Any]]:
        ids = [_int(raw) for raw in self._conn.hvals(keys.ALERTS_OPEN)]
        return self._rows(sorted(ids))

    def history(self, limit: int) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        ids = self._conn.zrevrange(keys.ALERTS_RESOLVED, 0, limit - 1)
        return self._rows([_int(raw) for raw in ids])

    def get(self, alert_id: int) -> dict[str, Any] | None:
        return alert_row(self._conn.hgetall(keys.alert(alert_id)))

    def _rows(self, ids: list[int]) -> list[dict[str, Any]]:
        with self._conn.pipeline(transaction=False) as pipe:
            for alert_id in ids:
                pipe.hgetall(keys.alert(alert_id))
            return [row for raw in pipe.execute() if (row := alert_row(raw))]

    def fire(
        self, rule: str, severity: str, queue: str, message: str, now: float
    ) -> dict[str, Any] | None:
        field = _open_field(rule, queue)

        def attempt(pipe: Pipeline) -> dict[str, Any] | None:
            if pipe.hexists(keys.ALERTS_OPEN, field):
                return None
            alert_id = _int(pipe.incr(keys.ALERTS_SEQ))  # immediate: WATCH mode
            row: dict[FieldT, EncodableT] = {
                "id": alert_id,
                "rule": rule,
                "severity": severity,
                "queue": queue,
                "state": "firing",
                "message": message,
                "since": now,
                "updated_at": now,
            }
            pipe.multi()
            pipe.hset(keys.alert(alert_id), mapping=row)
            pipe.hset(keys.ALERTS_OPEN, field, alert_id)
            return {**dict.fromkeys(ALERT_FIELDS), **{str(k): v for k, v in row.items()}}

        return self._transaction(attempt, keys.ALERTS_OPEN)

    def refresh(self, alert_id: int, severity: str, message: str, now: float) -> None:
        mapping: dict[FieldT, EncodableT] = {
            "severity": severity,
            "message": message,
            "updated_at": now,
        }
        self._conn.hset(keys.alert(alert_id), mapping=mapping)

    def transition(
        self, alert_id: int, state: str, by: str | None, now: float
    ) -> tuple[str | None, dict[str, Any] | None]:
        key = keys.alert(alert_id)
        before: list[str | None] = [None]

        def attempt(pipe: Pipeline) -> dict[str, Any] | None:
            row = alert_row(pipe.hgetall(key))
            before[0] = row["state"] if row else None
            if row is None or row["state"] not in ALERT_MOVES[state]:
                return row
            changes = alert_changes(state, by, now)
            pipe.multi()
            pipe.hset(key, mapping={k: v for k, v in changes.items() if v is not None})
            if state == "resolved":
                pipe.hdel(keys.ALERTS_OPEN, _open_field(row["rule"], row["queue"]))
                pipe.zadd(keys.ALERTS_RESOLVED, {str(alert_id): now})
            return {**row, **changes}

        after = self._transaction(attempt, key)
        return before[0], after

    def _transaction(self, attempt: Callable[[Pipeline], T], watched: str) -> T:
        """`attempt` under WATCH `watched`, re-run until no one changed it meanwhile."""
        # redis-py's stubs type the callable as returning None, though with
        # value_from_callable the transaction returns what it returns.
        run: Any = self._conn.transaction
        result: T = run(attempt, watched, value_from_callable=True)
        return result

    def prune(self, resolved_before: float) -> int:
        pruned = 0
        while True:
            ids = self._conn.zrangebyscore(
                keys.ALERTS_RESOLVED, "-inf", f"({resolved_before}", start=0, num=PRUNE_BATCH
            )
            if not ids:
                return pruned
            with self._conn.pipeline(transaction=True) as pipe:
                pipe.delete(*(keys.alert(_int(raw)) for raw in ids))
                pipe.zrem(keys.ALERTS_RESOLVED, *ids)
                pipe.execute()
            pruned += len(ids)

    def mark_evaluated(self, now: float) -> None:
        self._conn.set(keys.ALERTS_EVALUATED, now)

    def last_evaluated(self) -> float | None:
        raw = self._conn.get(keys.ALERTS_EVALUATED)
        return None if raw is None else float(raw)


def _open_field(rule: str, queue: str) -> str:
    return f"{rule}|{queue}"


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _int(raw: Any) -> int:
    return int(raw)


def alert_row(raw: Mapping[Any, Any]) -> dict[str, Any] | None:
    """An alert row from its hash (HGETALL), or None for a missing alert."""
    if not raw:
        return None
    fields = {_text(name): _text(value) for name, value in raw.items()}
    row: dict[str, Any] = {name: fields.get(name) for name in ALERT_FIELDS}
    row["id"] = int(row["id"])
    for name in FLOAT_FIELDS:
        if row[name] is not None:
            row[name] = float(row[name])
    return row
