"""Splitting a batch into pieces bounded by count and by bytes, for the calls that carry
many jobs at once (`enqueue_many`'s push_many calls, the Redis push script's arguments):
a count alone lets a few large payloads make one call of hundreds of megabytes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def bounded(
    items: Sequence[T], size: Callable[[T], int], max_items: int, max_bytes: int
) -> Iterator[list[T]]:
    """Consecutive pieces of `items`, in order, each of at most `max_items` and, unless a
    single item is larger on its own, at most `max_bytes` by `size`."""
    piece: list[T] = []
    total = 0
    for item in items:
        weight = size(item)
        if piece and (len(piece) == max_items or total + weight > max_bytes):
            yield piece
            piece, total = [], 0
        piece.append(item)
        total += weight
    if piece:
        yield piece
