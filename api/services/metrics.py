"""A job's metric series: the names asked for (all by default), one fold or all, downsampled on request."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.services.errors import InvalidField
from store import models
from store.metrics import read_series
from trainwell.job import JobMetrics
from trainwell.metrics import METRIC_NAMES


def read_job_metrics(
    *, session: Session, job: models.Job, names: list[str], fold: int | None, max_points: int | None
) -> JobMetrics:
    """`names` may repeat or comma-separate; an unknown name is refused with the allowed ones."""
    wanted = [n for item in names for n in item.split(",") if n]
    unknown = sorted(set(wanted) - METRIC_NAMES)
    if unknown:
        raise InvalidField(
            "names",
            f"unknown metric {', '.join(unknown)}; allowed: {', '.join(sorted(METRIC_NAMES))}",
            detail="unknown metric",
        )
    series = read_series(session=session, job_id=job.id, names=wanted or None, fold=fold, max_points=max_points)
    return JobMetrics(job_id=job.id, series=series)
