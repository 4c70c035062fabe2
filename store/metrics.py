"""Metric writes and reads: one batched upsert per epoch, series by name and fold."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Insert, select
from sqlalchemy.orm import Session

from core.downsample import downsample
from store.db import upsert_insert
from store.models import LatestMetric, Metric
from trainwell.job import MetricPoint, MetricSeries
from trainwell.metrics import METRIC_NAMES

MAX_ROWS_PER_STATEMENT = 4000


@dataclass(frozen=True)
class MetricRow:
    name: str
    fold: int
    epoch: int
    step: int
    value: float


def _upsert(session: Session, table: type[Metric] | type[LatestMetric], rows: list[dict[str, object]]) -> Insert:
    statement = upsert_insert(session, table).values(rows)
    keys = [c.name for c in table.__mapper__.primary_key]
    updated = {c: statement.excluded[c] for c in ("fold", "epoch", "step", "value") if c not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=updated)


def record_metrics(*, session: Session, job_id: str, rows: Iterable[MetricRow]) -> None:
    """Write a batch of metric points in one transaction; re-sending the same epoch overwrites it
    (a redelivered or resumed attempt never duplicates a point)."""
    history = [{"job_id": job_id, **row.__dict__} for row in rows]
    unknown = {row["name"] for row in history} - METRIC_NAMES
    if unknown:
        raise ValueError(f"unknown metric names: {sorted(unknown)}")
    if not history:
        return
    # in chunks: a resumed attempt re-sends every epoch of its checkpoint, and one statement may bind
    # at most 32766 (SQLite) or 65535 (PostgreSQL) parameters, six a row
    for start in range(0, len(history), MAX_ROWS_PER_STATEMENT):
        session.execute(_upsert(session, Metric, history[start : start + MAX_ROWS_PER_STATEMENT]))
    latest: dict[object, dict[str, object]] = {}
    for row in history:  # the last point of each name in this batch
        current = latest.get(row["name"])
        if current is None or (row["fold"], row["step"]) >= (current["fold"], current["step"]):
            latest[row["name"]] = row
    session.execute(_upsert(session, LatestMetric, list(latest.values())))


def read_series(
    *, session: Session, job_id: str, names: list[str] | None, fold: int | None, max_points: int | None
) -> list[MetricSeries]:
    query = select(Metric.name, Metric.fold, Metric.epoch, Metric.step, Metric.value).where(Metric.job_id == job_id)
    if names:
        query = query.where(Metric.name.in_(names))
    if fold is not None:
        query = query.where(Metric.fold == fold)
    query = query.order_by(Metric.name, Metric.fold, Metric.step, Metric.epoch)
    grouped: dict[tuple[str, int], list[MetricPoint]] = defaultdict(list)
    for name, fold_, epoch, step, value in session.execute(query):
        grouped[(name, fold_)].append(MetricPoint(epoch=epoch, step=step, value=value))
    series = []
    for (name, fold_), points in grouped.items():
        if max_points is not None:
            points = downsample(points, [p.value for p in points], max_points)
        series.append(MetricSeries(name=name, fold=fold_, points=points))
    return series


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
