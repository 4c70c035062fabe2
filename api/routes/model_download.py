"""/v1/jobs/{id}/model: a succeeded job's trained model, in a format that runs without trainwell.

The first request for a format asks a worker to make it (202 with Retry-After); once made, the cached file
is streamed from disk in chunks (constant memory), with an ETag that If-None-Match answers with 304.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response, status
from fastapi.responses import FileResponse, JSONResponse

from api.deps import OwnJobDep, SessionDep, SettingsDep, refuse_malformed_parameters
from api.errors import AUTHENTICATED, error_responses
from api.services.model_downloads import ExportPending, model_download
from trainwell.model_formats import ModelFormatName

router = APIRouter(
    prefix="/v1/jobs", tags=["models"], responses=AUTHENTICATED, dependencies=[Depends(refuse_malformed_parameters)]
)
MODEL: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        "description": "the model file",
    },
    202: {"description": "a worker is making the file: ask again after Retry-After seconds"},
    304: {"description": "the file is the one If-None-Match names"},
}


@router.get("/{job_id}/model", response_class=Response, responses=MODEL | error_responses(404, 409, 422))
def read_model(
    job: OwnJobDep,
    session: SessionDep,
    settings: SettingsDep,
    export_format: Annotated[ModelFormatName, Query(alias="format")] = "safetensors",
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The job's trained model: `safetensors` (weights and a metadata header), `pt2` (torch.export) or `onnx`;
    the exported graphs take raw rows, normalization included, and answer logits or values."""
    found = model_download(
        session=session, job=job, export_format=export_format, checkpoint_dir=settings.checkpoint_dir
    )
    if isinstance(found, ExportPending):
        body = {"job_id": job.id, "format": export_format, "status": "pending"}
        headers = {"Retry-After": str(found.retry_after)}
        return JSONResponse(body, status_code=status.HTTP_202_ACCEPTED, headers=headers)
    headers = {"ETag": found.etag, "Cache-Control": "private, max-age=0, must-revalidate"}
    if if_none_match is not None and found.etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return FileResponse(found.path, media_type=found.media_type, filename=found.download_name, headers=headers)
