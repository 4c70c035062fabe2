"""M4 summaries of a metric series at every resolution, the way a time-series database keeps rollups.

A bucket of level k holds the points whose step >> k is its number, so the grid never moves as a run
grows (a live run's buckets are the finished run's, clearml#1266). A summary is the bucket's point
count and its first, last, minimum and maximum point: exactly what core/downsample.py's M4 keeps of
that bucket, and two summaries of adjacent buckets merge into the summary of their union, so level k+1
is computed from level k and a batch of new points is merged into the stored summaries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from core.downsample import MAX_LEVEL, value_order

# levels below this are not stored: when a read would choose one, the level above it has fewer than
# max_points / 4 buckets, so the window holds fewer than 2 * max_points raw points (8 * max_points / 4)
# and is sampled from them directly; the stored rows are a quarter of the points
MIN_LEVEL = 3
LEVELS = range(MIN_LEVEL, MAX_LEVEL + 1)


class Point(NamedTuple):
    epoch: int
    step: int
    value: float


class Summary(NamedTuple):
    size: int  # points in the bucket
    first: Point
    last: Point
    low: Point
    high: Point

    def points(self) -> list[Point]:
        """The bucket's M4 points, distinct, in position order."""
        # keyed by position: a NaN value is unequal to itself, so a set would keep it twice
        return sorted({position(p): p for p in (self.first, self.last, self.low, self.high)}.values(), key=position)


def position(point: Point) -> tuple[int, int]:
    """Where a point lies in its series: the order of the metrics table's index."""
    return point.epoch, point.step


def _lower(a: Point, b: Point) -> bool:
    """a is the minimum of the two: the lower value, or the earlier point of equal values."""
    oa, ob = value_order(a.value), value_order(b.value)
    return oa < ob or (oa == ob and position(a) < position(b))


def _higher(a: Point, b: Point) -> bool:
    oa, ob = value_order(a.value), value_order(b.value)
    return oa > ob or (oa == ob and position(a) < position(b))


def single(point: Point) -> Summary:
    return Summary(1, point, point, point, point)


def merge(a: Summary, b: Summary) -> Summary:
    """The summary of two disjoint sets of points, in either order."""
    return Summary(
        a.size + b.size,
        a.first if position(a.first) < position(b.first) else b.first,
        a.last if position(a.last) > position(b.last) else b.last,
        a.low if _lower(a.low, b.low) else b.low,
        a.high if _higher(a.high, b.high) else b.high,
    )


def coarser(level: dict[int, Summary]) -> dict[int, Summary]:
    """The next level's buckets (twice as wide) from one level's."""
    out: dict[int, Summary] = {}
    for bucket, summary in level.items():
        parent = bucket >> 1
        current = out.get(parent)
        out[parent] = summary if current is None else merge(current, summary)
    return out


def summarize(points: Iterable[Point]) -> dict[int, dict[int, Summary]]:
    """level → bucket → summary of distinct points, for every stored level."""
    finest: dict[int, Summary] = {}
    for point in points:
        bucket = point.step >> MIN_LEVEL
        current = finest.get(bucket)
        finest[bucket] = single(point) if current is None else merge(current, single(point))
    levels = {MIN_LEVEL: finest}
    for level in LEVELS[1:]:
        levels[level] = coarser(levels[level - 1])
    return levels
