"""Jobs as the API shows them: a row with its stored verdict, one job or a page of them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from store import diagnoses as diagnosis_store
from store import jobs as job_store
from store import models
from store.principals import Caller
from trainwell.diagnosis import Verdict
from trainwell.job import Job, JobError, JobOrigin, JobPage, JobStatus, Progress
from trainwell.run import RunSpec
from trainwell.spec import JobSpec


def job_resource(job: models.Job, verdict: str | None, spec: JobSpec | None = None) -> Job:
    """The Job resource of a row; `spec` is the row's spec already validated, if at hand."""
    error = JobError(reason=job.error_reason, message=job.error_message or "") if job.error_reason else None
    return Job(
        id=job.id,
        name=job.name,
        status=JobStatus(job.status),
        **_spec_or_run(job, spec),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        attempt=job.attempt,
        progress=Progress(epoch=job.epoch, epochs=job.epochs, fold=job.fold, folds=job.folds),
        error=error,
        summary=job.summary,
        parent_id=job.parent_id,
        origin=JobOrigin(job.origin),
        sweep_id=job.sweep_id,
        verdict=Verdict(verdict) if verdict else None,
    )


def _spec_or_run(job: models.Job, spec: JobSpec | None) -> dict[str, JobSpec | RunSpec]:
    """A trainwell job's JobSpec, or what an external run declared (its spec column holds that)."""
    if job.origin == JobOrigin.external.value:
        return {"run": RunSpec.model_validate(job.spec)}
    return {"spec": spec or JobSpec.model_validate(job.spec)}


def jobs_public(*, session: Session, jobs: Sequence[models.Job]) -> list[Job]:
    """The Job resources of these rows, each with its stored verdict: one query for the lot."""
    verdicts = diagnosis_store.verdicts(session=session, job_ids=[j.id for j in jobs]) if jobs else {}
    return [job_resource(j, verdicts.get(j.id)) for j in jobs]


def job_public(*, session: Session, job: models.Job) -> Job:
    return jobs_public(session=session, jobs=[job])[0]


def read_jobs(
    *,
    session: Session,
    caller: Caller,
    limit: int,
    status: JobStatus | None = None,
    parent_id: str | None = None,
    sweep_id: str | None = None,
    cursor: job_store.Cursor | None = None,
) -> JobPage:
    """One page of the caller's jobs, newest first, with the cursor of the next page."""
    jobs, next_position = job_store.list_jobs(
        session=session,
        principal_id=caller.scope,
        limit=limit,
        status=status,
        parent_id=parent_id,
        sweep_id=sweep_id,
        cursor=cursor,
    )
    return JobPage(
        data=jobs_public(session=session, jobs=jobs), next_cursor=next_position.encode() if next_position else None
    )
