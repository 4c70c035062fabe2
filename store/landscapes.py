"""Stored loss landscapes: requested through the API, computed by a worker, one per job.

The row's status moves queued → running → ready | failed by compare-and-sets, like a job's: a message
delivered twice computes once. Asking again re-queues a failed landscape (and re-sends a queued one
whose message may have been lost); a ready one is kept. A running one whose worker died is computed again
or failed by the reaper (store/lost_work.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.models import JobLandscape, utcnow
from trainwell.landscape import Landscape, LandscapeStatus


def request_landscape(*, session: Session, job_id: str) -> tuple[JobLandscape, bool]:
    """The job's landscape row, made or re-queued as needed; True when it must be (re)sent to a worker."""
    row = session.get(JobLandscape, job_id)
    if row is None:
        row = JobLandscape(job_id=job_id, requested_at=utcnow())
        session.add(row)
    elif row.status in (LandscapeStatus.ready.value, LandscapeStatus.running.value):
        return row, False
    now = utcnow()
    row.status, row.png, row.requested_at, row.finished_at = LandscapeStatus.queued.value, None, now, None
    row.attempt, row.heartbeat_at = 0, None
    row.body = Landscape(job_id=job_id, status=LandscapeStatus.queued, requested_at=now).model_dump(mode="json")
    session.flush()
    return row, True


def claim_landscape(*, session: Session, job_id: str) -> bool:
    """queued → running, only if still queued; one more attempt, its lease starting now (store/lost_work.py)."""
    result = session.execute(
        update(JobLandscape)
        .where(JobLandscape.job_id == job_id, JobLandscape.status == LandscapeStatus.queued.value)
        .values(status=LandscapeStatus.running.value, attempt=JobLandscape.attempt + 1, heartbeat_at=utcnow())
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def finish_landscape(*, session: Session, landscape: Landscape, png: bytes | None) -> None:
    """Store the computed (ready) or failed landscape of a running row."""
    values: dict[str, Any] = {
        "status": landscape.status.value,
        "body": landscape.model_dump(mode="json"),
        "png": png,
        "finished_at": landscape.finished_at or utcnow(),
    }
    session.execute(
        update(JobLandscape)
        .where(JobLandscape.job_id == landscape.job_id, JobLandscape.status == LandscapeStatus.running.value)
        .values(**values)
    )


def get_landscape(*, session: Session, job_id: str) -> Landscape | None:
    row = session.execute(
        select(JobLandscape.status, JobLandscape.body).where(JobLandscape.job_id == job_id)
    ).one_or_none()
    if row is None:
        return None
    status, body = row
    return Landscape.model_validate({**body, "status": status})


def landscape_png(*, session: Session, job_id: str) -> bytes | None:
    query = select(JobLandscape.png).where(
        JobLandscape.job_id == job_id, JobLandscape.status == LandscapeStatus.ready.value
    )
    return session.scalar(query)
