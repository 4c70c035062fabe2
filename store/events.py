"""Live job events, read from the rows: what changed on a job since a reader last looked.

The database is the truth; core/events.py's Redis hint only says when to look.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from store.models import Job, Metric
from trainwell.metrics import STEP_METRICS

_EPOCH_METRIC_EXCLUDED = sorted(m.value for m in STEP_METRICS)


@dataclass(frozen=True)
class JobState:
    """The part of a job row that live readers watch."""

    status: str
    attempt: int
    epoch: int
    epochs: int
    fold: int
    folds: int
    started_at: datetime | None
    finished_at: datetime | None
    error_reason: str | None
    error_message: str | None
    summary: dict[str, Any] | None


@dataclass(frozen=True)
class EpochMetrics:
    fold: int
    epoch: int
    step: int
    metrics: dict[str, float]


def read_job_state(*, session: Session, job_id: str) -> JobState | None:
    row = session.execute(
        select(
            Job.status,
            Job.attempt,
            Job.epoch,
            Job.epochs,
            Job.fold,
            Job.folds,
            Job.started_at,
            Job.finished_at,
            Job.error_reason,
            Job.error_message,
            Job.summary,
        ).where(Job.id == job_id)
    ).one_or_none()
    return JobState(*row) if row is not None else None


def read_epochs_after(*, session: Session, job_id: str, fold: int, epoch: int) -> list[EpochMetrics]:
    """Every epoch's metrics (no per-step series) after (fold, epoch), in training order."""
    query = (
        select(Metric.fold, Metric.epoch, Metric.step, Metric.name, Metric.value)
        .where(
            Metric.job_id == job_id,
            Metric.name.not_in(_EPOCH_METRIC_EXCLUDED),
            or_(Metric.fold > fold, and_(Metric.fold == fold, Metric.epoch > epoch)),
        )
        .order_by(Metric.fold, Metric.epoch)
    )
    grouped: dict[tuple[int, int], dict[str, float]] = defaultdict(dict)
    steps: dict[tuple[int, int], int] = {}
    for fold_, epoch_, step, name, value in session.execute(query):
        grouped[(fold_, epoch_)][name] = value
        steps[(fold_, epoch_)] = max(step, steps.get((fold_, epoch_), 0))
    return [EpochMetrics(f, e, steps[(f, e)], metrics) for (f, e), metrics in grouped.items()]
