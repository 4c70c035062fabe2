"""The counts the submission quotas read: one principal's active jobs, and its recent submissions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import Job
from trainwell.job import JobStatus

ACTIVE = (JobStatus.queued.value, JobStatus.running.value, JobStatus.cancelling.value)


def count_active_jobs(*, session: Session, principal_id: int) -> int:
    query = select(func.count()).select_from(Job).where(Job.principal_id == principal_id, Job.status.in_(ACTIVE))
    return session.scalar(query) or 0


def submissions_since(*, session: Session, principal_id: int, since: datetime) -> list[datetime]:
    """Creation times of the principal's jobs since `since`, oldest first (served by the (principal, created_at) index)."""
    query = (
        select(Job.created_at).where(Job.principal_id == principal_id, Job.created_at >= since).order_by(Job.created_at)
    )
    return list(session.scalars(query))
