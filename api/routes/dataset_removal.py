"""DELETE /v1/datasets/{id}: withdraw an upload, its row and its file."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from api.deps import CallerDep, SessionDep, SettingsDep, refuse_malformed_parameters
from api.errors import AUTHENTICATED, error_responses
from api.services.dataset_removal import delete_dataset as remove

router = APIRouter(
    prefix="/v1/datasets",
    tags=["datasets"],
    responses=AUTHENTICATED,
    dependencies=[Depends(refuse_malformed_parameters)],
)


@router.delete("/{dataset_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404, 409))
def delete_dataset(dataset_id: str, session: SessionDep, caller: CallerDep, settings: SettingsDep) -> Response:
    """Delete an upload and its file; 409 `dataset_in_use` naming your queued or running jobs on it. A second
    delete is a 404."""
    remove(session=session, caller=caller, settings=settings, dataset_id=dataset_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
