"""GET /v1/jobs/{id}/metrics/export: every metric point of a job (or a run) as one CSV, NDJSON or Parquet file."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from api.deps import OwnJobDep, SessionDep, refuse_malformed_parameters
from api.errors import AUTHENTICATED, error_responses
from api.services.metric_export import export_metrics
from store.db import session_factory
from trainwell.metric_export import METRIC_EXPORT_FORMATS, MetricExportFormatName, export_file_name

router = APIRouter(
    prefix="/v1/jobs", tags=["jobs"], responses=AUTHENTICATED, dependencies=[Depends(refuse_malformed_parameters)]
)

EXPORT: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            chosen.media_type: {"schema": {"type": "string", "format": "binary"}}
            for chosen in METRIC_EXPORT_FORMATS.values()
        },
        "description": "the file, streamed: columns name, fold, epoch, step, value; one row per point",
    }
}


@router.get("/{job_id}/metrics/export", response_class=StreamingResponse, responses=EXPORT | error_responses(404, 422))
def export_job_metrics(
    job: OwnJobDep,
    session: SessionDep,
    export_format: Annotated[
        MetricExportFormatName, Query(alias="format", description="csv (default), ndjson or parquet")
    ] = "csv",
) -> StreamingResponse:
    """Every point of every series and fold, in the order name, fold, epoch, step. Non-finite values are
    `NaN`, `Infinity`, `-Infinity` in CSV, those strings in NDJSON, IEEE doubles in Parquet."""
    # the file streams long after this request's session would close: hand its connection back now; the
    # stream reads each page in a session of its own
    session.close()
    chosen = METRIC_EXPORT_FORMATS[export_format]
    return StreamingResponse(
        export_metrics(sessions=session_factory(), job_id=job.id, export_format=export_format),
        media_type=chosen.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export_file_name(job.id, export_format)}"'},
    )
