"""Metric writes and reads: one batched upsert per epoch, series by name and fold, the whole history by pages."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Row, select, text, tuple_
from sqlalchemy.orm import Session

from core.rollup import Point
from store.bulk_upsert import upsert_rows
from store.metric_rollups import SeriesKey, sample_series, update_rollups
from store.models import LatestMetric, Metric, MetricRollup
from trainwell.job import MetricPoint, MetricSeries
from trainwell.metrics import is_metric_name

LATEST_COLUMNS = ("fold", "epoch", "step", "value")
# a point's place in the history's primary key after the job id: (name, fold, epoch, step)
PointKey = tuple[str, int, int, int]


@dataclass(frozen=True)
class MetricRow:
    name: str
    fold: int
    epoch: int
    step: int
    value: float


def record_metrics(*, session: Session, job_id: str, rows: Iterable[MetricRow]) -> None:
    """Write a batch of metric points and their rollups in one transaction; re-sending the same epoch
    overwrites it (a redelivered or resumed attempt never duplicates a point)."""
    series: dict[SeriesKey, dict[tuple[int, int], Point]] = defaultdict(dict)
    for row in rows:  # a point sent twice in one batch: the later one wins
        series[(row.name, row.fold)][(row.epoch, row.step)] = Point(row.epoch, row.step, row.value)
    unknown = {name for name, _ in series if not is_metric_name(name)}
    if unknown:
        raise ValueError(f"unknown metric names: {sorted(unknown)}")
    if not series:
        return
    ordered = {key: [points[p] for p in sorted(points)] for key, points in series.items()}
    history = [
        {"job_id": job_id, "name": name, "fold": fold, "epoch": p.epoch, "step": p.step, "value": p.value}
        for (name, fold), points in ordered.items()
        for p in points
    ]
    upsert_rows(session=session, table=Metric, rows=history, updated=["value"])
    update_rollups(session=session, job_id=job_id, series=ordered)
    latest: dict[str, dict[str, object]] = {}
    for (name, fold), points in ordered.items():  # the last point of each name in this batch
        last = points[-1]
        current = latest.get(name)
        if current is None or (fold, last.step) >= (current["fold"], current["step"]):
            latest[name] = {"job_id": job_id, "name": name, "fold": fold, **last._asdict()}
    upsert_rows(session=session, table=LatestMetric, rows=list(latest.values()), updated=LATEST_COLUMNS)


def read_series(
    *,
    session: Session,
    job_id: str,
    names: list[str] | None,
    fold: int | None,
    max_points: int | None,
    from_step: int | None = None,
    to_step: int | None = None,
) -> list[MetricSeries]:
    """Series by name and fold, in that order, each in position order, with the steps from `from_step`
    to `to_step` (inclusive). With `max_points`, each series is sampled from its rollups
    (store/metric_rollups.py); without, every point is read, in index order."""
    if max_points is not None:
        return [
            _series(
                key,
                sample_series(
                    session=session, job_id=job_id, key=key, max_points=max_points, steps=(from_step, to_step)
                ),
            )
            for key in _series_keys(session=session, job_id=job_id, names=names, fold=fold)
        ]
    if names and len(set(names)) > 1:
        # a name at a time: with `name IN (…)` PostgreSQL 15 scans and sorts instead of walking the index
        return [
            series
            for name in sorted(set(names))
            for series in read_series(
                session=session,
                job_id=job_id,
                names=[name],
                fold=fold,
                max_points=None,
                from_step=from_step,
                to_step=to_step,
            )
        ]
    query = select(Metric.name, Metric.fold, Metric.epoch, Metric.step, Metric.value).where(Metric.job_id == job_id)
    if names:
        query = query.where(Metric.name == names[0])
    if fold is not None:
        query = query.where(Metric.fold == fold)
    if from_step is not None:
        query = query.where(Metric.step >= from_step)
    if to_step is not None:
        query = query.where(Metric.step <= to_step)
    # the primary key's order: the database walks its index and sorts nothing
    query = query.order_by(Metric.name, Metric.fold, Metric.epoch, Metric.step)
    grouped: dict[SeriesKey, list[MetricPoint]] = defaultdict(list)
    for name, fold_, epoch, step, value in session.execute(query):
        grouped[(name, fold_)].append(MetricPoint(epoch=epoch, step=step, value=value))
    return [MetricSeries(name=name, fold=fold_, points=points) for (name, fold_), points in grouped.items()]


def read_points_after(
    *, session: Session, job_id: str, after: PointKey | None, limit: int
) -> list[Row[str, int, int, int, float]]:
    """The next `limit` points of the job's whole history after `after` (from its first when None), as
    (name, fold, epoch, step, value) in the primary key's order: a keyset page, one seek in the index
    however deep into the history it starts, where an OFFSET would walk every point before it."""
    query = select(Metric.name, Metric.fold, Metric.epoch, Metric.step, Metric.value).where(Metric.job_id == job_id)
    if after is not None:
        query = query.where(tuple_(Metric.name, Metric.fold, Metric.epoch, Metric.step) > tuple_(*after))
    query = query.order_by(Metric.name, Metric.fold, Metric.epoch, Metric.step).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # Points written since the table was last analyzed are estimated at a handful, and PostgreSQL then
        # plans a bitmap scan of the whole rest of the history and a sort of it for each page (0.9 s a page
        # of a fresh 1M-point job, bench/metric_export.py). The index gives the order: never sort here.
        session.execute(text("SET LOCAL enable_sort = off"))
        points = list(session.execute(query))
        session.execute(text("SET LOCAL enable_sort = on"))  # the rest of the caller's transaction plans as ever
        return points
    return list(session.execute(query))


def _series(key: SeriesKey, points: list[Point]) -> MetricSeries:
    # validated in one call from plain dicts: a third cheaper than a MetricPoint(...) per point
    body = {"name": key[0], "fold": key[1], "points": [{"epoch": e, "step": s, "value": v} for e, s, v in points]}
    return MetricSeries.model_validate(body)


def _series_keys(*, session: Session, job_id: str, names: list[str] | None, fold: int | None) -> list[SeriesKey]:
    """A job's (name, fold) series: names from the small latest table, each name's folds by a seek to the next
    fold in the rollups' primary key, so that finding the series never scans a job's rollups."""
    query = select(LatestMetric.name).where(LatestMetric.job_id == job_id).order_by(LatestMetric.name)
    if names:
        query = query.where(LatestMetric.name.in_(names))
    keys: list[SeriesKey] = []
    for name in session.scalars(query):
        after = -1 if fold is None else fold - 1
        while True:
            found = session.scalar(
                select(MetricRollup.fold)
                .where(MetricRollup.job_id == job_id, MetricRollup.name == name, MetricRollup.fold > after)
                .order_by(MetricRollup.fold)
                .limit(1)
            )
            if found is None or (fold is not None and found != fold):
                break
            keys.append((name, found))
            if fold is not None:
                break
            after = found
    return keys


def latest_values(*, session: Session, job_ids: list[str]) -> dict[str, dict[str, float]]:
    """job id → {metric name: latest value}, from the small latest table, never the history."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    query = select(LatestMetric.job_id, LatestMetric.name, LatestMetric.value).where(LatestMetric.job_id.in_(job_ids))
    for job_id, name, value in session.execute(query):
        out[job_id][name] = value
    return dict(out)


def epoch_curves(
    *, session: Session, job_ids: list[str], names: list[str], fold: int
) -> dict[str, dict[str, list[float]]]:
    """job id → {name → value per epoch, in epoch order} of one fold, for many jobs in one query (a
    sweep's comparison reads every trial's)."""
    curves: dict[str, dict[str, list[float]]] = {job_id: {} for job_id in job_ids}
    if not job_ids:
        return curves
    query = (
        select(Metric.job_id, Metric.name, Metric.value)
        .where(Metric.job_id.in_(job_ids), Metric.name.in_(names), Metric.fold == fold)
        .order_by(Metric.job_id, Metric.name, Metric.epoch, Metric.step)
    )
    for job_id, name, value in session.execute(query):
        curves[job_id].setdefault(name, []).append(value)
    return curves
