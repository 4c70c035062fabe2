"""Downsampling a metric series for plotting without hiding its spikes.

Random or stride sampling drops the one epoch where the loss spiked (wandb#5694).
This is the M4 scheme (Jugel et al., VLDB 2014): split the series into buckets and
keep each bucket's first, last, minimum and maximum point, so a line drawn through
the result has the same extremes as the full series.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def downsample(points: Sequence[T], values: Sequence[float], max_points: int) -> list[T]:
    """At most max_points of `points` (in order), keeping first/min/max/last of each bucket."""
    n = len(points)
    if n <= max_points:
        return list(points)
    if max_points < 4:
        return [points[0], points[-1]][:max_points]
    buckets = max_points // 4
    keep: set[int] = set()
    for b in range(buckets):
        start, stop = b * n // buckets, (b + 1) * n // buckets
        if start >= stop:
            continue
        bucket = range(start, stop)
        keep.update((start, stop - 1, min(bucket, key=values.__getitem__), max(bucket, key=values.__getitem__)))
    return [points[i] for i in sorted(keep)]
