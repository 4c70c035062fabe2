"""A finished job's trained model as a download: asking a worker for the format, then the cached file.

The API never imports torch: the files are made by the export task (worker/model_export.py) beside the
job's checkpoints, in the data directory the API and the workers share, as uploads are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from api.services.errors import Conflict
from core.broker import enqueue_model_export
from store import models
from store.model_exports import request_export
from trainwell.job import FINAL_STATUSES, JobOrigin, JobStatus
from trainwell.model_formats import MODEL_FORMATS

# An export takes about a second (bench/): a client asking again after this finds it made.
RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class ModelFile:
    path: Path
    size: int
    etag: str
    media_type: str
    download_name: str


@dataclass(frozen=True)
class ExportPending:
    retry_after: int


def kept_model_file(*, job: models.Job, checkpoint_dir: Path, use: str) -> Path:
    """The model file a succeeded job kept; Conflict (409) `job_not_finished` or `no_weights` otherwise.
    `use` ends the message of a job still running: its model is `use` once it succeeds."""
    if job.origin == JobOrigin.external.value:
        raise Conflict("no_weights", f"run {job.id!r} trained in its owner's loop: the service has no weights of it")
    if JobStatus(job.status) not in FINAL_STATUSES:
        raise Conflict("job_not_finished", f"job {job.id!r} is {job.status}; its model is {use} once it succeeds")
    path = checkpoint_dir / job.id / MODEL_FORMATS["safetensors"].file_name
    if job.status != JobStatus.succeeded.value or not path.is_file():
        raise Conflict("no_weights", f"job {job.id!r} ended {job.status} and kept no trained weights")
    return path


def model_download(
    *, session: Session, job: models.Job, export_format: str, checkpoint_dir: Path
) -> ModelFile | ExportPending:
    """The job's model in `export_format`, or that a worker is making it (sent to one when needed)."""
    directory = kept_model_file(job=job, checkpoint_dir=checkpoint_dir, use="downloadable").parent
    chosen = MODEL_FORMATS[export_format]
    path = directory / chosen.file_name
    row, send = request_export(
        session=session,
        job_id=job.id,
        principal_id=job.principal_id,
        export_format=export_format,
        file_exists=path.is_file(),
    )
    session.commit()
    if send:
        enqueue_model_export(job.id, export_format)  # a lost send is made again once the row's lease runs out
        return ExportPending(RETRY_AFTER_SECONDS)
    if row.status == "failed":
        raise Conflict("export_failed", f"job {job.id!r} could not be exported to {export_format}: {row.error}")
    if row.status != "ready" or row.etag is None or row.bytes is None:
        return ExportPending(RETRY_AFTER_SECONDS)
    return ModelFile(path, row.bytes, row.etag, chosen.media_type, f"{job.id}{Path(chosen.file_name).suffix}")
