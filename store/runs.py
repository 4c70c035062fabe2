"""External runs: jobs (origin "external") whose loop is the user's own, logged over HTTP.

The row is a job's, so every reading route of a job serves it. Its `spec` column holds the RunSpec the run
declared instead of a JobSpec (the origin tells which). It is `running` from creation until its owner
finishes it: no worker holds it, so its heartbeat is not a worker's lease. Each metrics batch stamps it
(the last time the owner was heard from), and the reaper never requeues or fails an external run for an
old heartbeat (store/stale_jobs.py): only `finish` ends it, or deleting it. Once final, heartbeat_at is
the lease of its diagnosis, as for every final job (store/lost_work.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from store.models import Job, LatestMetric, Metric, utcnow
from trainwell.job import FailureReason, JobOrigin, JobStatus
from trainwell.run import RunSpec

MetricKey = tuple[str, int, int, int]  # name, fold, epoch, step


def new_run(*, principal_id: int, spec: RunSpec, queue: str) -> dict[str, Any]:
    """The row of a new external run (store.jobs.NEW_JOB_COLUMNS): running, its one attempt its owner's;
    `queue` is where its diagnosis will run."""
    now = utcnow()
    return dict(
        id=str(uuid.uuid4()),
        principal_id=principal_id,
        name=spec.name,
        status=JobStatus.running.value,
        spec=spec.model_dump(mode="json"),
        queue=queue,
        origin=JobOrigin.external.value,
        parent_id=None,
        sweep_id=None,
        idempotency_key=None,
        created_at=now,
        enqueued_at=now,
        attempt=1,
        epoch=0,
        epochs=spec.epochs or 0,
        fold=0,
        folds=1,
    )


def mark_started(*, session: Session, run_id: str) -> None:
    now = utcnow()
    session.execute(update(Job).where(Job.id == run_id).values(started_at=now, heartbeat_at=now))


def run_spec(job: Job) -> RunSpec:
    return RunSpec.model_validate(job.spec)


def hold_running(*, session: Session, run_id: str) -> bool:
    """Stamp the running run as heard from, holding its row until the commit (PostgreSQL), so a finish
    waits for the batch in flight; False when the run is no longer running."""
    stamped = session.execute(
        update(Job)
        .where(Job.id == run_id, Job.origin == JobOrigin.external.value, Job.status == JobStatus.running.value)
        .values(heartbeat_at=utcnow())
    )
    return bool(stamped.rowcount == 1)  # type: ignore[attr-defined]


def latest_positions(*, session: Session, run_id: str, names: Iterable[str]) -> dict[str, tuple[int, int]]:
    """name → (fold, step) of the newest stored point of each series, from the small latest table."""
    query = select(LatestMetric.name, LatestMetric.fold, LatestMetric.step).where(
        LatestMetric.job_id == run_id, LatestMetric.name.in_(list(names))
    )
    return {name: (fold, step) for name, fold, step in session.execute(query)}


def stored_keys(*, session: Session, run_id: str, keys: list[MetricKey]) -> set[MetricKey]:
    """Those of `keys` already stored: the points of a batch sent again after its answer was lost."""
    if not keys:
        return set()
    query = select(Metric.name, Metric.fold, Metric.epoch, Metric.step).where(
        Metric.job_id == run_id, tuple_(Metric.name, Metric.fold, Metric.epoch, Metric.step).in_(keys)
    )
    return {(name, fold, epoch, step) for name, fold, epoch, step in session.execute(query)}


def record_progress(*, session: Session, run_id: str, epoch: int, fold: int) -> None:
    """The newest epoch and fold the run has logged, as a job's progress shows them."""
    session.execute(
        update(Job)
        .where(Job.id == run_id)
        .values(epoch=epoch + 1, fold=fold, folds=fold + 1)
        .where(Job.epoch <= epoch + 1)
    )


def record_divergence(*, session: Session, run_id: str, message: str) -> None:
    """The run's first non-finite value: it will end `failed` (diverged) when finished."""
    session.execute(
        update(Job)
        .where(Job.id == run_id, Job.error_reason.is_(None))
        .values(error_reason=FailureReason.diverged.value, error_message=message)
    )


def finish_run(*, session: Session, run_id: str) -> JobStatus | None:
    """running → succeeded (failed, reason diverged, if it logged a non-finite value); the stamp starts
    the lease of its diagnosis. None when the run was not running."""
    now = utcnow()
    diverged = session.scalar(select(Job.error_reason).where(Job.id == run_id)) == FailureReason.diverged.value
    status = JobStatus.failed if diverged else JobStatus.succeeded
    result = session.execute(
        update(Job)
        .where(Job.id == run_id, Job.origin == JobOrigin.external.value, Job.status == JobStatus.running.value)
        .values(status=status.value, finished_at=now, heartbeat_at=now)
    )
    return status if result.rowcount == 1 else None  # type: ignore[attr-defined]


def record_summary(*, session: Session, run_id: str, summary: dict[str, Any]) -> None:
    """The finished run's summary (best epoch, best and final metrics), as a job's fit leaves it."""
    session.execute(update(Job).where(Job.id == run_id, Job.origin == JobOrigin.external.value).values(summary=summary))
