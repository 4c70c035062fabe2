"""Downsampling a metric series for plotting without hiding its spikes.

Random or stride sampling drops the one epoch where the loss spiked (wandb#5694).
This is the M4 scheme (Jugel et al., VLDB 2014): split the series into buckets and
keep each bucket's first, last, minimum and maximum point, so a line drawn through
the result has the same extremes as the full series.

Values are compared in PostgreSQL's total order of floats (NaN above +inf, equal to itself), so a
diverged run's NaN is kept as a bucket's maximum, and the summaries the store keeps per bucket
(store/metric_rollups.py) merge to exactly the answer computed here from the raw points.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import TypeVar

T = TypeVar("T")


def value_order(value: float) -> tuple[bool, float]:
    """The sort key of a value: NaN after every number (PostgreSQL's order of float8)."""
    return (True, 0.0) if math.isnan(value) else (False, value)


def m4_by_bucket(points: Sequence[T], values: Sequence[float], buckets: Sequence[Hashable]) -> list[T]:
    """`points` (in order) reduced to the first, last, minimum and maximum of each run of equal
    `buckets` keys; ties go to the earliest point."""
    keep: list[int] = []
    start = 0
    n = len(points)
    while start < n:
        stop = start + 1
        while stop < n and buckets[stop] == buckets[start]:
            stop += 1
        bucket = range(start, stop)
        low = min(bucket, key=lambda i: value_order(values[i]))
        high = max(bucket, key=lambda i: value_order(values[i]))
        keep.extend(sorted({start, stop - 1, low, high}))
        start = stop
    return [points[i] for i in keep]


def downsample(points: Sequence[T], values: Sequence[float], max_points: int) -> list[T]:
    """At most max_points of `points` (in order), keeping first/min/max/last of each of max_points // 4
    buckets of equal length."""
    n = len(points)
    if n <= max_points:
        return list(points)
    if max_points < 4:
        return [points[0], points[-1]][:max_points]
    buckets = max_points // 4
    return m4_by_bucket(points, values, [i * buckets // n for i in range(n)])


def step_level(steps: Sequence[int], max_points: int) -> int:
    """The coarsest k whose buckets of 2**k steps (step >> k) still number at least max_points / 4
    among `steps` (sorted by position): the resolution a sampled read of `max_points` shows. The
    grid is fixed, so a live run's buckets are the finished run's buckets."""
    wanted = -(-max_points // 4)
    level = 0
    while len({s >> (level + 1) for s in steps}) >= wanted and level < MAX_LEVEL:
        level += 1
    return level


MAX_LEVEL = 31  # a step is a 32-bit integer: one bucket of 2**31 steps holds every step >= 0


def sample_by_steps(points: Sequence[T], steps: Sequence[int], values: Sequence[float], max_points: int) -> list[T]:
    """The sampled answer for `max_points` from raw points in position order: all of them when they
    fit, else the M4 of the buckets of `step_level`."""
    if len(points) <= max_points:
        return list(points)
    level = step_level(steps, max_points)
    return m4_by_bucket(points, values, [s >> level for s in steps])
