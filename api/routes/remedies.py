"""Remedies you can run: POST /v1/jobs/{id}/remedies/{code} submits the original spec with
that finding's remedy patch applied, as a new job linked to the original."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status
from fastapi.concurrency import run_in_threadpool

from api.deps import CallerDep, OwnJobDep, SessionDep, SettingsDep, refuse_malformed_parameters
from api.errors import AUTHENTICATED, error_responses
from api.idempotency import REPLAYED, IdempotencyKey, mark_replayed
from api.services.remedies import remedy_spec
from api.services.submission import submit_job
from trainwell.diagnosis import FindingCode
from trainwell.job import Job, JobOrigin

router = APIRouter(
    prefix="/v1/jobs", tags=["diagnosis"], responses=AUTHENTICATED, dependencies=[Depends(refuse_malformed_parameters)]
)


@router.post(
    "/{job_id}/remedies/{code}",
    status_code=status.HTTP_201_CREATED,
    response_model=Job,
    responses={201: REPLAYED, **error_responses(404, 409, 429)},
)
async def run_remedy(
    job: OwnJobDep,
    code: Annotated[
        str,
        Path(
            description="the `code` of a finding of the job's diagnosis that has remedies",
            openapi_examples={"underfit": {"value": FindingCode.high_training_loss.value}},
        ),
    ],
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    response: Response,
    index: Annotated[int, Query(ge=0, description="which of the finding's remedies; the first by default")] = 0,
    idempotency_key: IdempotencyKey = None,
) -> Job:
    """Launch the job that applies a remedy of the finding `code` (see GET …/diagnosis). A repeated
    `Idempotency-Key` returns the job it created the first time, as POST /v1/jobs does."""
    spec = await run_in_threadpool(remedy_spec, session=session, job=job, code=code, index=index)
    submitted = await submit_job(
        session=session,
        caller=caller,
        settings=settings,
        spec=spec,
        idempotency_key=idempotency_key,
        origin=JobOrigin.remedy,
        parent_id=job.id,
    )
    return mark_replayed(response, submitted)
