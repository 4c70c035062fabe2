"""The stored M4 rollups of each series (core/rollup.py): kept in the transaction that writes the points,
and read back so that a sampled read costs about what it returns, not the history's length."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

from sqlalchemy import delete, select, text, tuple_
from sqlalchemy.orm import Session

from core.downsample import MAX_LEVEL, sample_by_steps
from core.rollup import LEVELS, MIN_LEVEL, Point, Summary, merge, position, single, summarize
from store.bulk_upsert import upsert_rows
from store.models import Metric, MetricRollup

SeriesKey = tuple[str, int]  # (name, fold)
_ENDS = ("first", "last", "min", "max")
_COLUMNS = ["count", *(f"{end}_{part}" for end in _ENDS for part in ("epoch", "step", "value"))]


def rollup_row(job_id: str, key: SeriesKey, level: int, bucket: int, summary: Summary) -> dict[str, Any]:
    row: dict[str, Any] = {"job_id": job_id, "name": key[0], "fold": key[1], "level": level, "bucket": bucket}
    row["count"] = summary.size
    for end, point in zip(_ENDS, (summary.first, summary.last, summary.low, summary.high), strict=True):
        row[f"{end}_epoch"], row[f"{end}_step"], row[f"{end}_value"] = point
    return row


def _summary(row: Any) -> Summary:
    return Summary(
        row.count,
        Point(row.first_epoch, row.first_step, row.first_value),
        Point(row.last_epoch, row.last_step, row.last_value),
        Point(row.min_epoch, row.min_step, row.min_value),
        Point(row.max_epoch, row.max_step, row.max_value),
    )


def _is_series(key: SeriesKey) -> Any:
    return (MetricRollup.name == key[0]) & (MetricRollup.fold == key[1])


def update_rollups(*, session: Session, job_id: str, series: dict[SeriesKey, list[Point]]) -> None:
    """Merge points just written (distinct, each series in position order) into the rollups.

    A series' points that all come after its stored ones, in step order too (every live write), can
    only share their first bucket of each level with stored points: those rows are read (one query for
    the batch) and merged. Any other batch (a resumed attempt or a client re-sending points, which may
    change values) rebuilds the series from its points, which the caller has written already."""
    if not series:
        return
    candidates = [(key, level, points[0].step >> level) for key, points in series.items() for level in LEVELS]
    stored: dict[SeriesKey, dict[int, Summary]] = {}
    for row in _stored_rows(session=session, job_id=job_id, candidates=candidates):
        stored.setdefault((row.name, row.fold), {})[row.level] = _summary(row)
    rows: list[dict[str, Any]] = []
    for key, points in series.items():
        existing = stored.get(key, {})
        steps_ascend = all(a.step < b.step for a, b in pairwise(points))
        top = existing.get(MAX_LEVEL)
        if not steps_ascend or (
            top is not None and (top.last.step >= points[0].step or position(top.last) >= position(points[0]))
        ):
            rebuild_rollups(session=session, job_id=job_id, key=key)
            continue
        for level, buckets in summarize(points).items():
            first_bucket = points[0].step >> level
            for bucket, summary in buckets.items():
                if bucket == first_bucket and level in existing:
                    summary = merge(existing[level], summary)
                rows.append(rollup_row(job_id, key, level, bucket, summary))
    upsert_rows(session=session, table=MetricRollup, rows=rows, updated=_COLUMNS)


# the candidates as one array parameter joined to the primary key: a lookup each, one statement compiled
# and prepared once (an OR of equalities made both databases scan every row of the job)
_LOOKUPS = {
    "postgresql": text(
        "SELECT r.* FROM unnest(CAST(:names AS text[]), CAST(:folds AS integer[]), CAST(:levels AS integer[]), "
        "CAST(:buckets AS bigint[])) AS c(name, fold, level, bucket) CROSS JOIN LATERAL (SELECT * FROM "
        "metric_rollups r WHERE r.job_id = :job_id AND r.name = c.name AND r.fold = c.fold AND r.level = c.level "
        "AND r.bucket = c.bucket) r"
    ),
    "sqlite": text(
        "SELECT r.* FROM json_each(:candidates) AS c CROSS JOIN metric_rollups r ON r.job_id = :job_id "
        "AND r.name = c.value ->> 0 AND r.fold = c.value ->> 1 AND r.level = c.value ->> 2 "
        "AND r.bucket = c.value ->> 3"
    ),
}


def _stored_rows(*, session: Session, job_id: str, candidates: list[tuple[SeriesKey, int, int]]) -> Iterable[Any]:
    """The stored rows among (series, level, bucket) candidates."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        parameters: dict[str, Any] = {
            "job_id": job_id,
            "names": [key[0] for key, _, _ in candidates],
            "folds": [key[1] for key, _, _ in candidates],
            "levels": [level for _, level, _ in candidates],
            "buckets": [bucket for _, _, bucket in candidates],
        }
    else:
        parameters = {
            "job_id": job_id,
            "candidates": json.dumps([[*key, level, bucket] for key, level, bucket in candidates]),
        }
    return session.execute(_LOOKUPS[dialect], parameters).all()


def rebuild_rollups(*, session: Session, job_id: str, key: SeriesKey, chunk: int = 5000) -> None:
    """A series' rollups recomputed from all its points (a rewrite, the migration's backfill)."""
    session.execute(delete(MetricRollup).where(MetricRollup.job_id == job_id, _is_series(key)))
    points = _raw_points(session=session, job_id=job_id, key=key)
    rows = [
        rollup_row(job_id, key, level, bucket, summary)
        for level, buckets in summarize(points).items()
        for bucket, summary in buckets.items()
    ]
    for start in range(0, len(rows), chunk):
        upsert_rows(session=session, table=MetricRollup, rows=rows[start : start + chunk], updated=_COLUMNS)


def _raw_points(
    *,
    session: Session,
    job_id: str,
    key: SeriesKey,
    since: Point | None = None,
    until: Point | None = None,
    steps: tuple[int, int] | None = None,
) -> list[Point]:
    """A series' points in index order, between two positions (an index range) and two steps."""
    query = select(Metric.epoch, Metric.step, Metric.value).where(
        Metric.job_id == job_id, Metric.name == key[0], Metric.fold == key[1]
    )
    if since is not None:
        query = query.where(tuple_(Metric.epoch, Metric.step) >= position(since), Metric.epoch >= since.epoch)
    if until is not None:
        query = query.where(tuple_(Metric.epoch, Metric.step) <= position(until), Metric.epoch <= until.epoch)
    if steps is not None:
        query = query.where(Metric.step.between(*steps))
    query = query.order_by(Metric.epoch, Metric.step)
    return [Point(*row) for row in session.execute(query)]


def _level_rows(*, session: Session, job_id: str, key: SeriesKey, level: int, buckets: tuple[int, int]) -> list[Any]:
    query = (
        select(*MetricRollup.__table__.columns)  # rows, not ORM objects: a read builds hundreds
        .where(
            MetricRollup.job_id == job_id,
            _is_series(key),
            MetricRollup.level == level,
            MetricRollup.bucket.between(*buckets),
        )
        .order_by(MetricRollup.bucket)
    )
    return list(session.execute(query))


def _grid_level(low: int, high: int, wanted: int) -> int:
    """The coarsest level whose grid has at least `wanted` buckets over the steps [low, high]: no coarser
    level can have that many buckets holding points."""
    level = MAX_LEVEL
    while level > 0 and (high >> level) - (low >> level) + 1 < wanted:
        level -= 1
    return level


def sample_series(
    *, session: Session, job_id: str, key: SeriesKey, max_points: int, steps: tuple[int | None, int | None]
) -> list[Point]:
    """What core.downsample.sample_by_steps answers on the series' points whose step lies in `steps`
    (bounds inclusive, None open), read from the rollups: the points themselves when at most max_points
    lie there, else the M4 of each bucket at the coarsest level with at least max_points / 4 buckets."""
    tops = _level_rows(session=session, job_id=job_id, key=key, level=MAX_LEVEL, buckets=(-2, 1))
    if not tops:
        return []
    low = tops[0].first_step if steps[0] is None else max(steps[0], tops[0].first_step)
    high = tops[-1].last_step if steps[1] is None else min(steps[1], tops[-1].last_step)
    if low > high:
        return []
    wanted = -(-max_points // 4)
    window = (low, high)
    buckets: list[Summary] = []
    for level in range(max(_grid_level(low, high, wanted), MIN_LEVEL), MIN_LEVEL - 1, -1):
        rows = _level_rows(session=session, job_id=job_id, key=key, level=level, buckets=(low >> level, high >> level))
        buckets = _clipped(session=session, job_id=job_id, key=key, rows=rows, window=window)
        if not buckets:
            return []
        if sum(b.size for b in buckets) <= max_points:  # the points themselves
            return _raw_points(
                session=session, job_id=job_id, key=key, since=buckets[0].first, until=buckets[-1].last, steps=window
            )
        if len(buckets) >= wanted:
            return [point for summary in buckets for point in summary.points()]
    # fewer than max_points / 4 buckets of 2**MIN_LEVEL steps: fewer than 2 * max_points points
    points = _raw_points(
        session=session, job_id=job_id, key=key, since=buckets[0].first, until=buckets[-1].last, steps=window
    )
    return sample_by_steps(points, [p.step for p in points], [p.value for p in points], max_points)


def _clipped(
    *, session: Session, job_id: str, key: SeriesKey, rows: Sequence[Any], window: tuple[int, int]
) -> list[Summary]:
    """The rows' summaries restricted to the steps of `window`: a bucket reaching past it (at most the
    first and the last) is summarized again from its points inside."""
    out: list[Summary] = []
    for row in rows:
        summary = _summary(row)
        if row.first_step < window[0] or row.last_step > window[1]:
            steps = (max(window[0], row.first_step), min(window[1], row.last_step))
            inside = _raw_points(
                session=session, job_id=job_id, key=key, since=summary.first, until=summary.last, steps=steps
            )
            clipped = _summary_of(inside)
            if clipped is None:
                continue
            summary = clipped
        out.append(summary)
    return out


def _summary_of(points: Iterable[Point]) -> Summary | None:
    merged: Summary | None = None
    for point in points:
        merged = single(point) if merged is None else merge(merged, single(point))
    return merged
