"""Remedies you can run: POST /v1/jobs/{id}/remedies/{code} submits the original spec with
that finding's remedy patch applied, as a new job linked to the original."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from api.deps import CallerDep, SessionDep, SettingsDep, refuse_nul_parameters
from api.errors import AUTHENTICATED, ApiError, error_responses
from api.routes.jobs import own_job, submit_job
from store.diagnoses import get_diagnosis
from trainwell.diagnosis import DiagnosisStatus, merge_patch
from trainwell.job import Job, JobOrigin
from trainwell.spec import JobSpec

router = APIRouter(
    prefix="/v1/jobs", tags=["diagnosis"], responses=AUTHENTICATED, dependencies=[Depends(refuse_nul_parameters)]
)


@router.post(
    "/{job_id}/remedies/{code}",
    status_code=status.HTTP_201_CREATED,
    response_model=Job,
    responses=error_responses(404, 409, 429),
)
async def run_remedy(
    job_id: str,
    code: str,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    response: Response,
    index: Annotated[int, Query(ge=0, description="which of the finding's remedies; the first by default")] = 0,
) -> Job:
    """Launch the job that applies a remedy of the finding `code` (see GET …/diagnosis)."""
    spec = await run_in_threadpool(_remedy_spec, session, caller, job_id, code, index)
    return await submit_job(
        session=session,
        caller=caller,
        settings=settings,
        spec=spec,
        response=response,
        origin=JobOrigin.remedy,
        parent_id=job_id,
    )


def _remedy_spec(session: SessionDep, caller: CallerDep, job_id: str, code: str, index: int) -> JobSpec:
    """The caller's job's spec with the remedy's patch applied (404 for a foreign job or unknown remedy)."""
    job = own_job(session, caller, job_id)
    diagnosis = get_diagnosis(session=session, job_id=job.id)
    if diagnosis is None or diagnosis.status is DiagnosisStatus.pending:
        raise ApiError(409, "diagnosis_pending", f"job {job_id!r} has no diagnosis yet; it is made when the job ends")
    finding = next((f for f in diagnosis.findings if f.code == code), None)
    if finding is None:
        codes = ", ".join(f.code for f in diagnosis.findings if f.remedies) or "none"
        raise ApiError(
            404, "not_found", f"the diagnosis of job {job_id!r} has no finding {code!r}; with remedies: {codes}"
        )
    if index >= len(finding.remedies):
        raise ApiError(
            404, "not_found", f"finding {code!r} has {len(finding.remedies)} remedies; index {index} is out of range"
        )
    remedy = finding.remedies[index]
    patched: dict[str, Any] = merge_patch(job.spec, remedy.spec_patch)
    patched["name"] = remedy.title[:200]
    try:
        return JobSpec.model_validate(patched)
    except ValidationError as error:  # a remedy that yields an invalid spec is our bug, but say what it is
        raise ApiError(
            422, "invalid_remedy", f"the remedy's patched spec is invalid: {error.errors()[0]['msg']}"
        ) from None
