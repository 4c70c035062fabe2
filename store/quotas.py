"""The counts the submission quotas read, in one round trip and bounded: each count stops at
its limit, so a principal with thousands of queued jobs costs a submit no more than one with
a hundred (a plain COUNT grew with the backlog and halved submit throughput in the bench)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import Job
from trainwell.job import JobStatus

ACTIVE = (JobStatus.queued.value, JobStatus.running.value, JobStatus.cancelling.value)


@dataclass(frozen=True)
class Usage:
    active: int  # queued + running jobs, counted up to the active limit
    recent: int  # jobs created since the window began, counted up to the rate limit


def usage(*, session: Session, principal_id: int, since: datetime, max_active: int, max_recent: int) -> Usage:
    mine = Job.principal_id == principal_id
    # served by ix_jobs_principal_status and ix_jobs_principal_created; LIMIT bounds each scan
    active = select(Job.id).where(mine, Job.status.in_(ACTIVE)).limit(max_active).subquery()
    recent = select(Job.id).where(mine, Job.created_at >= since).limit(max_recent).subquery()
    row = session.execute(
        select(
            select(func.count()).select_from(active).scalar_subquery(),
            select(func.count()).select_from(recent).scalar_subquery(),
        )
    ).one()
    return Usage(active=row[0], recent=row[1])


def oldest_of_newest(*, session: Session, principal_id: int, since: datetime, count: int) -> datetime | None:
    """When the `count`-th newest submission since `since` was made: the window frees a slot after it."""
    query = (
        select(Job.created_at)
        .where(Job.principal_id == principal_id, Job.created_at >= since)
        .order_by(Job.created_at.desc())
        .offset(count - 1)
        .limit(1)
    )
    return session.scalar(query)
