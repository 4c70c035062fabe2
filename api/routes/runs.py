"""/v1/runs: a run from the user's own training loop — create it, send its metrics, finish it.

The run's id is a job id: GET /v1/jobs/{id}, its metrics, events, diagnosis and the dashboard serve it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from api.deps import CallerDep, SessionDep, SettingsDep, refuse_malformed_parameters
from api.errors import AUTHENTICATED, error_responses
from api.routes.jobs import require_json
from api.services import runs
from store import models
from trainwell.job import Job
from trainwell.run import RunPoints, RunPointsAccepted, RunSpec

router = APIRouter(
    prefix="/v1/runs", tags=["runs"], responses=AUTHENTICATED, dependencies=[Depends(refuse_malformed_parameters)]
)


def get_own_run(run_id: str, session: SessionDep, caller: CallerDep) -> models.Job:
    """The path's run if it is the caller's; 404 for a missing or another principal's run, or a job."""
    return runs.own_run(session=session, caller=caller, run_id=run_id)


OwnRunDep = Annotated[models.Job, Depends(get_own_run)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Job,
    dependencies=[Depends(require_json)],
    responses=error_responses(400, 413, 415, 422, 429),
)
async def create_run(spec: RunSpec, session: SessionDep, caller: CallerDep, settings: SettingsDep) -> Job:
    """Start a run logged from your own loop: a Job with origin `external`, running until you finish it."""
    return await runs.create_run(session=session, caller=caller, settings=settings, spec=spec)


@router.post(
    "/{run_id}/metrics",
    response_model=RunPointsAccepted,
    dependencies=[Depends(require_json)],
    responses=error_responses(400, 404, 409, 413, 415, 422, 429),
)
def create_run_metrics(
    batch: RunPoints, run: OwnRunDep, session: SessionDep, settings: SettingsDep
) -> RunPointsAccepted:
    """Store a batch of points, all or none: a refusal names the first point at fault. Sending a batch
    again stores nothing twice; NaN/±Inf values mark the run diverged (they are not stored as points)."""
    return runs.ingest_points(session=session, settings=settings, run=run, points=batch.points)


@router.post("/{run_id}/finish", response_model=Job, responses=error_responses(404, 409))
def finish_run(run: OwnRunDep, session: SessionDep) -> Job:
    """End the run (`failed`, reason diverged, if it logged a non-finite value; else `succeeded`) and
    diagnose what it logged."""
    return runs.finish_run(session=session, run=run)
