"""The metric store interface, and the bucket format every backend stores metrics in."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field

# Outcomes counted per minute. `stalled` and `recovered` come from the reaper, which knows
# the queue but not the job names: they are recorded under the job name QUEUE_WIDE.
OUTCOMES = ("completed", "failed", "retried", "stalled", "recovered")
QUEUE_WIDE = "*"


@dataclass
class MetricBucket:
    """One minute (or one day) of one job's metrics: counts by OUTCOMES, and wait and run
    time histograms as {bucket index: count} (the index scale is runtime.stats').

    Stored as a string of hex digits writing a sequence of numbers: the count of counts
    kept (trailing zeros dropped) and those counts, then each histogram as the length of
    its occupied range (0 when empty), its lowest index and the counts from there up (a
    job's times span a few buckets). A number is written in octal, most significant digit
    first, every digit but its last one plus 8: 0-7 take one digit, up to 63 two, and no
    separators are needed. An empty bucket is `000`; `[5, 0, 1] {40: 3, 43: 1} {}` is
    `3501 4d03001 0` (without the spaces). Hex digits because Redis keeps whole sequences
    of buckets packed two digits per byte (`pack_buckets`): a busy minute with both
    histograms takes about 20 bytes there. The Redis backend's lua/metrics.lua merges the
    same format."""

    counts: list[int] = field(default_factory=lambda: [0] * len(OUTCOMES))
    wait: dict[int, int] = field(default_factory=dict)
    run: dict[int, int] = field(default_factory=dict)

    def merge(self, other: MetricBucket) -> MetricBucket:
        """Add `other` into this bucket; returns self."""
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        for mine, theirs in ((self.wait, other.wait), (self.run, other.run)):
            for index, count in theirs.items():
                mine[index] = mine.get(index, 0) + count
        return self

    def count(self, outcome: str) -> int:
        return self.counts[OUTCOMES.index(outcome)]

    def empty(self) -> bool:
        return not any(self.counts) and not self.wait and not self.run

    def encode(self) -> str:
        counts = list(self.counts)
        while counts and not counts[-1]:
            counts.pop()
        numbers = [len(counts), *counts, *_histogram_numbers(self.wait)]
        return "".join(map(_digits, [*numbers, *_histogram_numbers(self.run)]))

    @classmethod
    def decode(cls, text: str) -> MetricBucket:
        return cls.decode_all(text)[0]

    @classmethod
    def decode_all(cls, text: str) -> list[MetricBucket]:
        """The buckets written one after the other in `text` (numbers missing at its end
        read as 0, so a padding digit reads as one more, empty, bucket)."""
        numbers = _numbers(text)
        return [cls._read(kept, numbers) for kept in numbers]

    @classmethod
    def _read(cls, kept: int, numbers: Iterator[int]) -> MetricBucket:
        counts = [next(numbers, 0) for _ in range(kept)]
        counts += [0] * (len(OUTCOMES) - len(counts))
        return cls(counts, _read_histogram(numbers), _read_histogram(numbers))


# Hand-written (no library writes this format): the Redis backend's lua/metrics.lua must
# read it too.
_CONTINUED = str.maketrans("01234567", "89abcdef")


def _digits(number: int) -> str:
    octal = f"{number:o}"
    return octal[:-1].translate(_CONTINUED) + octal[-1]


def _numbers(text: str) -> Iterator[int]:
    value = 0
    for digit in text:
        nibble = int(digit, 16)
        value = value * 8 + nibble % 8
        if nibble < 8:
            yield value
            value = 0


def _histogram_numbers(histogram: dict[int, int]) -> list[int]:
    if not histogram:
        return [0]
    low, high = min(histogram), max(histogram)
    return [high - low + 1, low, *(histogram.get(i, 0) for i in range(low, high + 1))]


def _read_histogram(numbers: Iterator[int]) -> dict[int, int]:
    length = next(numbers, 0)
    low = next(numbers, 0) if length else 0
    counts = ((low + i, next(numbers, 0)) for i in range(length))
    return {index: count for index, count in counts if count}


def pack_buckets(buckets: list[MetricBucket]) -> bytes:
    """`buckets` (trailing empty ones dropped) as Redis stores them, two digits per byte."""
    while buckets and buckets[-1].empty():
        buckets = buckets[:-1]
    text = "".join(bucket.encode() for bucket in buckets)
    return bytes.fromhex(text + "0" * (len(text) % 2))


def unpack_buckets(packed: bytes) -> list[MetricBucket]:
    return MetricBucket.decode_all(packed.hex())


# The metrics of one flush: (job name, minute since the epoch) -> that minute's bucket.
MetricBatch = dict[tuple[str, int], MetricBucket]

MINUTES_KEPT = 24 * 60  # per-minute buckets are kept 24 hours (Redis: up to 25, by hour)
DAYS_KEPT = 30  # daily totals are kept 30 days


def daily_counts(batch: MetricBatch) -> MetricBatch:
    """The counts of `batch` added up per (job, day since the epoch), without histograms."""
    days: MetricBatch = {}
    for (job, minute), bucket in batch.items():
        day = days.setdefault((job, minute // 1440), MetricBucket())
        day.counts = [a + b for a, b in zip(day.counts, bucket.counts, strict=True)]
    return days


def outcome_counts(batch: MetricBatch) -> dict[tuple[str, str], int]:
    """The non-zero counts of `batch` per (job, outcome): what lifetime totals add."""
    totals: dict[tuple[str, str], int] = {}
    for (job, _), bucket in batch.items():
        for outcome, count in zip(OUTCOMES, bucket.counts, strict=True):
            if count:
                totals[(job, outcome)] = totals.get((job, outcome), 0) + count
    return totals


class MetricStore(ABC):
    """Per-minute and daily metrics of each queue and job (runtime.stats writes and reads
    them). Writers are the worker processes, each flushing what it aggregated in memory;
    buckets from several processes for the same minute add up. Minutes and days are
    counted from the unix epoch (UTC)."""

    @abstractmethod
    def add(self, queue: str, batch: MetricBatch) -> None:
        """Merge `batch` into the per-minute buckets, the daily totals (counts only) and the
        lifetime totals per (job, outcome), in one round trip / one transaction."""

    @abstractmethod
    def minutes(self, queue: str, first: int, last: int, job: str | None = None) -> MetricBatch:
        """Buckets of minutes `first`..`last` (inclusive) of `queue`, every job's (including
        QUEUE_WIDE) or only `job`'s. Minutes older than MINUTES_KEPT may be gone."""

    @abstractmethod
    def days(self, queue: str, first: int, job: str | None = None) -> MetricBatch:
        """Daily totals (counts only) from day `first` on, keyed (job, day)."""

    @abstractmethod
    def totals(self, queues: list[str]) -> dict[tuple[str, str, str], int]:
        """Lifetime counts {(queue, job, outcome): n} of the given queues; they never
        shrink (Prometheus counters)."""

    @abstractmethod
    def prune(self, queue: str, now: float) -> int:
        """Drop `queue`'s buckets older than the retention; returns how many (a backend
        whose keys expire by themselves does nothing)."""

    @abstractmethod
    def forget(self, queue: str) -> None:
        """Drop every metric of `queue`, its lifetime totals included: the queue was
        forgotten (Backend.forget_queue), and retention prunes known queues only, so
        nothing else would ever remove them."""
