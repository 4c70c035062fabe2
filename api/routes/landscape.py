"""/v1/jobs/{id}/landscape: the error surface around a finished job's weights.

POST asks a worker to compute it (the loss along the line from the initial to the final weights,
and on a grid along two filter-normalized random directions, Li et al. 2018); GET returns the
numbers, and `…/landscape.png` the contour plot, once ready.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response, status

from api.deps import OwnJobDep, SessionDep, refuse_malformed_parameters
from api.errors import AUTHENTICATED, error_responses
from api.services import landscapes
from trainwell.landscape import Landscape

router = APIRouter(
    prefix="/v1/jobs", tags=["diagnosis"], responses=AUTHENTICATED, dependencies=[Depends(refuse_malformed_parameters)]
)
# A schema for the bytes, or generated clients drop the body (they read a response without one as empty).
PNG: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        "description": "the contour plot",
    }
}
ALREADY: dict[int | str, dict[str, Any]] = {200: {"model": Landscape, "description": "already computed or under way"}}


@router.post(
    "/{job_id}/landscape",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Landscape,
    responses=ALREADY | error_responses(404, 409),
)
def compute_landscape(job: OwnJobDep, session: SessionDep, response: Response) -> Landscape:
    """Compute the job's loss landscape (202); one already computed or under way is returned as it is (200).
    A failed one is computed again."""
    requested = landscapes.request_landscape(session=session, job=job)
    if not requested.sent:
        response.status_code = status.HTTP_200_OK
    return requested.landscape


@router.get("/{job_id}/landscape", response_model=Landscape, responses=error_responses(404))
def read_landscape(job: OwnJobDep, session: SessionDep) -> Landscape:
    """The landscape's numbers; `plot_url` names the contour plot once `status` is ready."""
    return landscapes.read_landscape(session=session, job=job)


@router.get("/{job_id}/landscape.png", response_class=Response, responses=PNG | error_responses(404))
def read_landscape_plot(job: OwnJobDep, session: SessionDep) -> Response:
    """The contour plot (PNG): the line from the initial to the final weights, and the surface around them."""
    png = landscapes.read_landscape_plot(session=session, job=job)
    return Response(content=png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})
