"""GET /v1/jobs/{id}/diagnosis: why the job fits the way it does, and what to change."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import OwnJobDep, SessionDep, refuse_malformed_parameters
from api.errors import AUTHENTICATED, error_responses
from api.services import diagnoses
from trainwell.diagnosis import Diagnosis

router = APIRouter(
    prefix="/v1/jobs", tags=["diagnosis"], responses=AUTHENTICATED, dependencies=[Depends(refuse_malformed_parameters)]
)


@router.get("/{job_id}/diagnosis", response_model=Diagnosis, responses=error_responses(404))
def read_diagnosis(job: OwnJobDep, session: SessionDep) -> Diagnosis:
    """The stored diagnosis; `status: pending` until the worker has computed it after the job ended, and
    `running_probes` (the verdict provisional) while probe jobs run; `GET /v1/jobs?parent_id=` lists them."""
    return diagnoses.read_diagnosis(session=session, job=job)
