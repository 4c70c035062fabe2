"""A job's metric series: the names asked for (all by default), one fold or all, downsampled on request."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.services.errors import InvalidField
from store import models
from store.metrics import read_series
from trainwell.job import JobMetrics
from trainwell.metrics import METRIC_NAMES, is_metric_name


def read_job_metrics(
    *,
    session: Session,
    job: models.Job,
    names: list[str],
    fold: int | None,
    max_points: int | None,
    steps: tuple[int | None, int | None] = (None, None),
) -> JobMetrics:
    """`names` may repeat or comma-separate; an unknown name is refused with the allowed ones. `steps`
    bounds the steps read (inclusive, None open): a zoom."""
    if steps[0] is not None and steps[1] is not None and steps[0] > steps[1]:
        raise InvalidField("to_step", f"to_step {steps[1]} is before from_step {steps[0]}", detail="empty step range")
    wanted = [n for item in names for n in item.split(",") if n]
    unknown = sorted(name for name in set(wanted) if not is_metric_name(name))  # a run's custom/… ones are known
    if unknown:
        raise InvalidField(
            "names",
            f"unknown metric {', '.join(unknown)}; allowed: {', '.join(sorted(METRIC_NAMES))}, or custom/<name>",
            detail="unknown metric",
        )
    series = read_series(
        session=session,
        job_id=job.id,
        names=wanted or None,
        fold=fold,
        max_points=max_points,
        from_step=steps[0],
        to_step=steps[1],
    )
    return JobMetrics(job_id=job.id, series=series)
