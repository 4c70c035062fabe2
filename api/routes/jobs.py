"""/v1/jobs: submit, read, list, cancel, metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError

from api.deps import CallerDep, SessionDep, SettingsDep, nul_error, nul_field, refuse_nul_parameters
from api.errors import AUTHENTICATED, ApiError, error_responses, not_found
from api.quotas import check_model_size, refusal, submission_limits
from api.routes.datasets import check_uploaded_dataset
from core.broker import enqueue_training_async, queue_for
from store import diagnoses as diagnosis_store
from store import jobs as job_store
from store import models
from store.db import autocommit_connection
from store.metrics import read_series
from store.quotas import insert_within_limits
from trainwell.diagnosis import Verdict
from trainwell.job import FINAL_STATUSES, Job, JobError, JobMetrics, JobOrigin, JobPage, JobStatus, Progress
from trainwell.metrics import METRIC_NAMES
from trainwell.model_size import DATASET_SHAPES, DataShape
from trainwell.spec import JobSpec

# Folds are stored as SQL INTEGER: a larger index could only fail in the database.
MAX_FOLD = 2**31 - 1

router = APIRouter(
    prefix="/v1/jobs", tags=["jobs"], responses=AUTHENTICATED, dependencies=[Depends(refuse_nul_parameters)]
)


def jobs_public(*, session: SessionDep, jobs: Sequence[models.Job]) -> list[Job]:
    """The Job resources of these rows, each with its stored verdict: one query for the lot."""
    verdicts = diagnosis_store.verdicts(session=session, job_ids=[j.id for j in jobs]) if jobs else {}
    return [_job_resource(j, verdicts.get(j.id)) for j in jobs]


def job_public(*, session: SessionDep, job: models.Job) -> Job:
    return jobs_public(session=session, jobs=[job])[0]


def _job_resource(job: models.Job, verdict: str | None, spec: JobSpec | None = None) -> Job:
    error = JobError(reason=job.error_reason, message=job.error_message or "") if job.error_reason else None
    return Job(
        id=job.id,
        name=job.name,
        status=JobStatus(job.status),
        spec=spec or JobSpec.model_validate(job.spec),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        attempt=job.attempt,
        progress=Progress(epoch=job.epoch, epochs=job.epochs, fold=job.fold, folds=job.folds),
        error=error,
        summary=job.summary,
        parent_id=job.parent_id,
        origin=JobOrigin(job.origin),
        verdict=Verdict(verdict) if verdict else None,
    )


def _check_submittable(spec: JobSpec, spec_json: dict[str, Any], settings: SettingsDep) -> None:
    """Refuse what cannot run or be stored (no I/O)."""
    if field := nul_field(spec_json, ""):
        raise nul_error(field)
    if spec.epochs > settings.max_epochs:
        raise ApiError(
            422,
            "invalid_request",
            f"epochs: at most {settings.max_epochs} allowed, got {spec.epochs}",
            [{"field": "epochs", "message": f"at most {settings.max_epochs}"}],
        )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Job, responses=error_responses(400, 409, 413, 429))
async def create_job(
    spec: JobSpec,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Job:
    """Submit a training job. A repeated `Idempotency-Key` returns the job it created the first time."""
    return await submit_job(
        session=session, caller=caller, settings=settings, spec=spec, response=response, idempotency_key=idempotency_key
    )


async def submit_job(
    *,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    spec: JobSpec,
    response: Response,
    idempotency_key: str | None = None,
    origin: JobOrigin = JobOrigin.user,
    parent_id: str | None = None,
) -> Job:
    """Check, store and enqueue a job: the one path every submission takes (user, remedy).

    A submission is the service's hottest write, and each round trip and thread hop showed in its
    throughput and tail latency (bench/service.py): the common path is one autocommitted statement
    (the quota counts and the insert) and one LPUSH, both awaited on the event loop. Only the rare
    steps (an uploaded dataset, an Idempotency-Key, a refusal) read through the session, in a thread.
    """
    spec_json = spec.model_dump(mode="json")
    _check_submittable(spec, spec_json, settings)
    shape = DATASET_SHAPES.get(spec.dataset.name)
    if shape is None:
        shape = await run_in_threadpool(_uploaded_shape, session, caller, spec)
    if idempotency_key is not None:
        existing = await run_in_threadpool(_replay, session, caller.principal_id, idempotency_key, spec_json, response)
        if existing is not None:
            return existing  # a replay is not a new submission: no quota applies
    check_model_size(spec=spec, shape=shape, settings=settings)
    row = job_store.new_job(
        principal_id=caller.principal_id,
        spec=spec,
        spec_json=spec_json,
        queue=queue_for(spec.device),
        idempotency_key=idempotency_key,
        origin=origin,
        parent_id=parent_id,
    )
    limits = submission_limits(caller=caller, settings=settings)
    try:
        async with autocommit_connection() as connection:
            inserted = await insert_within_limits(connection=connection, job=row, limits=limits)
    except IntegrityError:  # a concurrent request with the same key won the insert
        existing = await run_in_threadpool(
            _replay_winner, session, caller.principal_id, idempotency_key or "", spec_json, response
        )
        if existing is None:
            raise
        return existing
    if not inserted:
        raise await run_in_threadpool(refusal, session=session, limits=limits)
    try:
        await enqueue_training_async(row["id"], row["queue"])
    except Exception:
        await run_in_threadpool(_forget, session, row["id"])
        raise
    return _job_resource(models.Job(**row), None, spec)  # a new job: no verdict to look up, the spec validated


def _replay_winner(
    session: SessionDep, principal_id: int, key: str, spec_json: dict[str, Any], response: Response
) -> Job | None:
    """_replay after losing the insert race: rolled back first, so no snapshot of our first lookup hides the winner."""
    session.rollback()
    return _replay(session, principal_id, key, spec_json, response)


def _uploaded_shape(session: SessionDep, caller: CallerDep, spec: JobSpec) -> DataShape:
    shape = check_uploaded_dataset(session=session, caller=caller, spec=spec)
    if shape is None:  # the spec's validation admits only built-in names and uploaded-dataset ids
        raise ValueError(f"dataset {spec.dataset.name!r} is neither built in nor uploaded")
    return shape


def _forget(session: SessionDep, job_id: str) -> None:
    """Remove a job whose message could not be sent: nothing stored for a failed submit, a retry starts clean."""
    job_store.delete_job(session=session, job_id=job_id)
    session.commit()


def _replay(
    session: SessionDep, principal_id: int, key: str, spec_json: dict[str, Any], response: Response
) -> Job | None:
    existing = job_store.get_job_by_idempotency_key(session=session, principal_id=principal_id, key=key)
    if existing is None:
        return None
    if existing.spec != spec_json:
        raise ApiError(409, "idempotency_conflict", "Idempotency-Key was already used with a different job spec")
    response.headers["Idempotent-Replayed"] = "true"
    return job_public(session=session, job=existing)


@router.get("", response_model=JobPage, responses=error_responses(400))
def read_jobs(
    session: SessionDep,
    caller: CallerDep,
    status: JobStatus | None = None,
    parent_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> JobPage:
    """Your jobs, newest first; pass `next_cursor` back as `cursor` for the next page."""
    try:
        position = job_store.Cursor.decode(cursor) if cursor else None
    except ValueError:
        raise ApiError(400, "invalid_cursor", "cursor is not one this API returned") from None
    jobs, next_position = job_store.list_jobs(
        session=session, principal_id=caller.scope, limit=limit, status=status, parent_id=parent_id, cursor=position
    )
    return JobPage(
        data=jobs_public(session=session, jobs=jobs), next_cursor=next_position.encode() if next_position else None
    )


def own_job(session: SessionDep, caller: CallerDep, job_id: str) -> models.Job:
    job = job_store.get_job(session=session, job_id=job_id, principal_id=caller.scope)
    if job is None:
        raise not_found("job", job_id)
    return job


@router.get("/{job_id}", response_model=Job, responses=error_responses(404))
def read_job(job_id: str, session: SessionDep, caller: CallerDep) -> Job:
    return job_public(session=session, job=own_job(session, caller, job_id))


@router.post("/{job_id}/cancel", response_model=Job, responses=error_responses(404, 409))
def cancel_job(job_id: str, session: SessionDep, caller: CallerDep) -> Job:
    """Cancel a queued job (it never starts) or a running one (it stops at the next step)."""
    job = own_job(session, caller, job_id)
    if JobStatus(job.status) in FINAL_STATUSES:
        raise ApiError(409, "job_finished", f"job {job_id!r} already {job.status}")
    job_store.request_cancel(session=session, job=job)
    session.commit()
    return job_public(session=session, job=job)


@router.get("/{job_id}/metrics", response_model=JobMetrics, responses=error_responses(404))
def read_job_metrics(
    job_id: str,
    session: SessionDep,
    caller: CallerDep,
    names: Annotated[list[str] | None, Query(description="metric names; repeat or comma-separate")] = None,
    fold: Annotated[int | None, Query(ge=0, le=MAX_FOLD)] = None,
    max_points: Annotated[
        int | None, Query(ge=4, le=100_000, description="downsample each series (spikes kept)")
    ] = None,
) -> JobMetrics:
    job = own_job(session, caller, job_id)
    wanted = [n for item in names or [] for n in item.split(",") if n]
    unknown = sorted(set(wanted) - METRIC_NAMES)
    if unknown:
        raise ApiError(
            422,
            "invalid_request",
            f"names: unknown metric {', '.join(unknown)}; allowed: {', '.join(sorted(METRIC_NAMES))}",
            [{"field": "names", "message": "unknown metric"}],
        )
    series = read_series(session=session, job_id=job.id, names=wanted or None, fold=fold, max_points=max_points)
    return JobMetrics(job_id=job.id, series=series)
