"""The job counts /metrics exports, read at scrape time: the database is the truth, and workers
expose no port."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import Job
from trainwell.job import JobStatus


@dataclass(frozen=True)
class JobStats:
    by_status: dict[str, int]
    oldest_queued: datetime | None  # when the longest-waiting queued job was enqueued
    retried: list[tuple[str, int]]  # jobs on a second or later attempt, by status
    durations: list[float]  # seconds, of the jobs finished since the window began


def job_stats(*, session: Session, finished_since: datetime) -> JobStats:
    by_status = {
        status: count for status, count in session.execute(select(Job.status, func.count()).group_by(Job.status))
    }
    oldest = session.scalar(select(func.min(Job.enqueued_at)).where(Job.status == JobStatus.queued.value))
    retried = [
        (status, count)
        for status, count in session.execute(
            select(Job.status, func.count()).where(Job.attempt > 1).group_by(Job.status)
        )
    ]
    finished = session.execute(
        select(Job.started_at, Job.finished_at).where(Job.finished_at >= finished_since, Job.started_at.is_not(None))
    ).all()
    durations = [(end - start).total_seconds() for start, end in finished if start and end]
    return JobStats(by_status=by_status, oldest_queued=oldest, retried=retried, durations=durations)


def principal_job_counts(*, session: Session, principal_id: int) -> dict[str, int]:
    """One principal's jobs by status (served by ix_jobs_principal_status)."""
    query = select(Job.status, func.count()).where(Job.principal_id == principal_id).group_by(Job.status)
    return {status: count for status, count in session.execute(query)}
