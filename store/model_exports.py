"""A finished job's model exports: one row per download format, asked for by the API, made by a worker.

`pending` → `ready` | `failed`. A pending row carries its request time as a lease: an export takes
seconds (bench/ measures it), so a row pending for longer than EXPORT_LEASE_SECONDS lost its worker or
its message, and the next request sends it again — a lost export is made again, never waited on forever.
A ready row whose file is gone (removed by an operator) is made again too, and so is a failed one once its
reason has been the answer for a lease's length.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from store.models import ModelExport, utcnow

EXPORT_LEASE_SECONDS = 120.0


def request_export(
    *, session: Session, job_id: str, principal_id: int, export_format: str, file_exists: bool
) -> tuple[ModelExport, bool]:
    """The export's row (counted in its job's principal's stored bytes), made or renewed as needed; True when
    it must be (re)sent to a worker."""
    now = utcnow()
    row = session.get(ModelExport, (job_id, export_format))
    if row is None:
        row = ModelExport(
            job_id=job_id, format=export_format, principal_id=principal_id, status="pending", requested_at=now
        )
        session.add(row)
        session.flush()
        return row, True
    if row.status == "ready" and file_exists:
        return row, False
    lease = timedelta(seconds=EXPORT_LEASE_SECONDS)
    if row.status == "failed" and row.finished_at is not None and now - row.finished_at < lease:
        return row, False  # its reason is the answer for a while; a process killed by chance gets another try
    if row.status == "pending" and now - row.requested_at < lease:
        return row, False
    row.status, row.requested_at, row.finished_at, row.bytes, row.etag, row.error = (
        "pending",
        now,
        None,
        None,
        None,
        None,
    )
    session.flush()
    return row, True


def finish_export(
    *, session: Session, job_id: str, export_format: str, size: int | None, etag: str | None, error: str | None
) -> None:
    """Store the export's outcome: ready with its size and ETag, or failed with a one-line reason."""
    session.execute(
        update(ModelExport)
        .where(ModelExport.job_id == job_id, ModelExport.format == export_format)
        .values(
            status="failed" if error is not None else "ready",
            bytes=size,
            etag=etag,
            error=error,
            finished_at=utcnow(),
        )
    )
