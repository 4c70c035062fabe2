"""/v1/jobs/{id}/landscape: the error surface around a finished job's weights (issue 4, item 6).

POST asks a worker to compute it (the loss along the line from the initial to the final weights,
and on a grid along two filter-normalized random directions, Li et al. 2018); GET returns the
numbers, and `…/landscape.png` the contour plot, once ready.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response, status

from api.deps import CallerDep, SessionDep, refuse_nul_parameters
from api.errors import AUTHENTICATED, ApiError, error_responses
from api.routes.jobs import own_job
from core.broker import enqueue_landscape
from store.landscapes import get_landscape, landscape_png, request_landscape
from trainwell.job import FINAL_STATUSES, JobStatus
from trainwell.landscape import Landscape, LandscapeStatus

router = APIRouter(
    prefix="/v1/jobs", tags=["diagnosis"], responses=AUTHENTICATED, dependencies=[Depends(refuse_nul_parameters)]
)
PNG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}}, "description": "the contour plot"}}
ALREADY: dict[int | str, dict[str, Any]] = {200: {"model": Landscape, "description": "already computed or under way"}}


def _public(landscape: Landscape) -> Landscape:
    if landscape.status is LandscapeStatus.ready:
        landscape.plot_url = f"/v1/jobs/{landscape.job_id}/landscape.png"
    return landscape


@router.post(
    "/{job_id}/landscape",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Landscape,
    responses=ALREADY | error_responses(404, 409),
)
def compute_landscape(job_id: str, session: SessionDep, caller: CallerDep, response: Response) -> Landscape:
    """Compute the job's loss landscape (202); one already computed or under way is returned as it is (200).
    A failed one is computed again."""
    job = own_job(session, caller, job_id)
    if JobStatus(job.status) not in FINAL_STATUSES:
        raise ApiError(
            409, "job_not_finished", f"job {job_id!r} is {job.status}; its landscape needs its final weights"
        )
    if job.epoch == 0:
        raise ApiError(409, "no_weights", f"job {job_id!r} finished no epoch: there are no trained weights to look at")
    row, send = request_landscape(session=session, job_id=job.id)
    session.commit()
    if send:
        enqueue_landscape(job.id, job.queue)  # a lost send is made again by the next POST (the row stays queued)
    else:
        response.status_code = status.HTTP_200_OK
    landscape = get_landscape(session=session, job_id=row.job_id)
    assert landscape is not None
    return _public(landscape)


@router.get("/{job_id}/landscape", response_model=Landscape, responses=error_responses(404))
def read_landscape(job_id: str, session: SessionDep, caller: CallerDep) -> Landscape:
    """The landscape's numbers; `plot_url` names the contour plot once `status` is ready."""
    job = own_job(session, caller, job_id)
    landscape = get_landscape(session=session, job_id=job.id)
    if landscape is None:
        raise ApiError(
            404, "landscape_not_found", f"job {job_id!r} has no landscape; POST /v1/jobs/{job_id}/landscape computes it"
        )
    return _public(landscape)


@router.get("/{job_id}/landscape.png", response_class=Response, responses=PNG | error_responses(404))
def read_landscape_plot(job_id: str, session: SessionDep, caller: CallerDep) -> Response:
    """The contour plot (PNG): the line from the initial to the final weights, and the surface around them."""
    job = own_job(session, caller, job_id)
    png = landscape_png(session=session, job_id=job.id)
    if png is None:
        raise ApiError(404, "landscape_not_found", f"job {job_id!r} has no computed landscape (yet)")
    return Response(content=png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})
